# BPF programs, built where their tools are present: clang for -target bpf, bpftool for
# vmlinux.h (from this machine's kernel BTF; CO-RE lets an object run on other kernels) and for
# skeletons, libbpf-dev, and llvm-strip to drop the DWARF (the .BTF sections CO-RE needs stay).
# Without them the library and the tools still build, and what uses the programs says they
# are not built (listen_queues.cpp, state_follow.cpp). The programs' C lives in libcommon/bpf/.
option(TCPKIT_BPF "Build the BPF programs where clang, bpftool and libbpf-dev are installed" ON)
set(TCPKIT_HAVE_BPF OFF)
if(TCPKIT_BPF)
  find_program(TCPKIT_BPF_CLANG NAMES clang clang-14)
  find_program(TCPKIT_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
  find_program(TCPKIT_LLVM_STRIP NAMES llvm-strip llvm-strip-14)
  pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf)
  find_path(TCPKIT_LIBBPF_INCLUDE_DIR bpf/libbpf.h HINTS ${LIBBPF_INCLUDE_DIRS})
  set(TCPKIT_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "The kernel BTF vmlinux.h is made from")
  if(TCPKIT_BPF_CLANG AND TCPKIT_BPFTOOL AND TCPKIT_LLVM_STRIP AND LIBBPF_FOUND AND TCPKIT_LIBBPF_INCLUDE_DIR
     AND EXISTS ${TCPKIT_VMLINUX_BTF})
    set(TCPKIT_HAVE_BPF ON)
  endif()
endif()
message(STATUS "tcpkit: BPF programs ${TCPKIT_HAVE_BPF} (clang ${TCPKIT_BPF_CLANG}, bpftool ${TCPKIT_BPFTOOL}, "
               "llvm-strip ${TCPKIT_LLVM_STRIP}, libbpf ${LIBBPF_VERSION}, ${TCPKIT_VMLINUX_BTF})")
set(TCPKIT_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
set(TCPKIT_BPF_SRC ${PROJECT_SOURCE_DIR}/libcommon/bpf)

# tcpkit_bpf_object(NAME [HEADERS...]): ${TCPKIT_BPF_SRC}/NAME.bpf.c built and stripped into
# ${TCPKIT_BPF_OUT}/NAME.bpf.o, with vmlinux.h made once for all of them.
function(tcpkit_bpf_object name)
  set(dir ${TCPKIT_BPF_OUT})
  if(NOT TARGET tcpkit_vmlinux_h)
    file(MAKE_DIRECTORY ${dir})
    add_custom_command(OUTPUT ${dir}/vmlinux.h
      COMMAND sh -c "'${TCPKIT_BPFTOOL}' btf dump file '${TCPKIT_VMLINUX_BTF}' format c > '${dir}/vmlinux.h.tmp'"
      COMMAND ${CMAKE_COMMAND} -E rename ${dir}/vmlinux.h.tmp ${dir}/vmlinux.h
      COMMENT "vmlinux.h from ${TCPKIT_VMLINUX_BTF}"
      VERBATIM)
    add_custom_target(tcpkit_vmlinux_h DEPENDS ${dir}/vmlinux.h)
  endif()
  set(source ${TCPKIT_BPF_SRC}/${name}.bpf.c)
  add_custom_command(OUTPUT ${dir}/${name}.bpf.o
    COMMAND ${TCPKIT_BPF_CLANG} -O2 -g -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I${dir} -I${TCPKIT_BPF_SRC}
            -I${PROJECT_SOURCE_DIR}/libcommon/include -I${TCPKIT_LIBBPF_INCLUDE_DIR} -c ${source} -o ${dir}/${name}.bpf.o
    COMMAND ${TCPKIT_LLVM_STRIP} -g ${dir}/${name}.bpf.o
    DEPENDS ${source} ${ARGN} ${dir}/vmlinux.h
    COMMENT "BPF object ${name}.bpf.o"
    VERBATIM)
endfunction()

# tcpkit_bpf_embedded(NAME): the object's bytes as a C initializer list, NAME.bpf.inc, for code
# that loads it through a libbpf it dlopen()s (no skeleton, no link to libbpf).
function(tcpkit_bpf_embedded name)
  set(dir ${TCPKIT_BPF_OUT})
  add_custom_command(OUTPUT ${dir}/${name}.bpf.inc
    COMMAND ${CMAKE_COMMAND} -DIN=${dir}/${name}.bpf.o -DOUT=${dir}/${name}.bpf.inc
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_bytes.cmake
    DEPENDS ${dir}/${name}.bpf.o ${PROJECT_SOURCE_DIR}/cmake/embed_bytes.cmake
    COMMENT "BPF object ${name} as bytes"
    VERBATIM)
  add_custom_target(tcpkit_bpf_${name} DEPENDS ${dir}/${name}.bpf.inc)
endfunction()

# tcpkit_bpf_skeleton(NAME): bpftool's skeleton of the object, NAME.skel.h, for code linked to
# libbpf.
function(tcpkit_bpf_skeleton name)
  set(dir ${TCPKIT_BPF_OUT})
  add_custom_command(OUTPUT ${dir}/${name}.skel.h
    COMMAND sh -c "'${TCPKIT_BPFTOOL}' gen skeleton '${dir}/${name}.bpf.o' name ${name}_bpf > '${dir}/${name}.skel.h'"
    DEPENDS ${dir}/${name}.bpf.o
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(tcpkit_bpf_${name} DEPENDS ${dir}/${name}.skel.h)
endfunction()
