# BPF programs (tcpstate syn-flood's listener queues), built where their tools are present:
# clang for -target bpf, bpftool for vmlinux.h (from this machine's kernel BTF; CO-RE lets the
# object run on other kernels), libbpf's headers, and llvm-strip to drop the DWARF (the .BTF
# sections that CO-RE needs stay). Each object is embedded in libtcpkit as bytes; libbpf itself
# is loaded at run time by the code that uses it (dlopen), as libpcap is, so that no tool
# links it. Without these tools the library builds without the programs, and their users
# fall back to what they did before (sockets/listen_queues.hpp).
option(TCPKIT_BPF "Build the BPF programs where clang, bpftool and libbpf-dev are installed" ON)
find_program(TCPKIT_BPF_CLANG NAMES clang clang-14)
find_program(TCPKIT_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
find_program(TCPKIT_LLVM_STRIP NAMES llvm-strip llvm-strip-14)
find_path(TCPKIT_LIBBPF_INCLUDE_DIR bpf/libbpf.h)
set(TCPKIT_VMLINUX_BTF /sys/kernel/btf/vmlinux)
set(TCPKIT_HAVE_BPF OFF)
if(TCPKIT_BPF AND TCPKIT_BPF_CLANG AND TCPKIT_BPFTOOL AND TCPKIT_LLVM_STRIP AND TCPKIT_LIBBPF_INCLUDE_DIR
   AND EXISTS ${TCPKIT_VMLINUX_BTF})
  set(TCPKIT_HAVE_BPF ON)
endif()
message(STATUS "tcpkit: BPF programs ${TCPKIT_HAVE_BPF} (clang ${TCPKIT_BPF_CLANG}, bpftool ${TCPKIT_BPFTOOL}, "
               "llvm-strip ${TCPKIT_LLVM_STRIP}, libbpf headers ${TCPKIT_LIBBPF_INCLUDE_DIR})")

# tcpkit_bpf_object(NAME SOURCE [HEADERS...]): builds SOURCE into ${CMAKE_CURRENT_BINARY_DIR}/bpf/NAME.bpf.inc,
# the object's bytes as a C initializer list, and adds it to the target tcpkit_bpf_objects.
function(tcpkit_bpf_object name source)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
  set(vmlinux ${dir}/vmlinux.h)
  if(NOT TARGET tcpkit_vmlinux_h)
    add_custom_command(OUTPUT ${vmlinux}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND sh -c "'${TCPKIT_BPFTOOL}' btf dump file '${TCPKIT_VMLINUX_BTF}' format c > '${vmlinux}.tmp'"
      COMMAND ${CMAKE_COMMAND} -E rename ${vmlinux}.tmp ${vmlinux}
      COMMENT "vmlinux.h from this kernel's BTF"
      VERBATIM)
    add_custom_target(tcpkit_vmlinux_h DEPENDS ${vmlinux})
  endif()
  get_filename_component(source_dir ${source} DIRECTORY)
  add_custom_command(OUTPUT ${dir}/${name}.bpf.inc
    COMMAND ${TCPKIT_BPF_CLANG} -O2 -g -target bpf -Wall -Werror -I${dir} -I${source_dir}
            -I${PROJECT_SOURCE_DIR}/libcommon/include
            -I${TCPKIT_LIBBPF_INCLUDE_DIR} -c ${source} -o ${dir}/${name}.bpf.o
    COMMAND ${TCPKIT_LLVM_STRIP} -g ${dir}/${name}.bpf.o
    COMMAND ${CMAKE_COMMAND} -DIN=${dir}/${name}.bpf.o -DOUT=${dir}/${name}.bpf.inc
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_bytes.cmake
    DEPENDS ${source} ${ARGN} ${vmlinux} ${PROJECT_SOURCE_DIR}/cmake/embed_bytes.cmake
    COMMENT "BPF object ${name}"
    VERBATIM)
  if(NOT TARGET tcpkit_bpf_objects)
    add_custom_target(tcpkit_bpf_objects)
  endif()
  add_custom_target(tcpkit_bpf_${name} DEPENDS ${dir}/${name}.bpf.inc)
  add_dependencies(tcpkit_bpf_objects tcpkit_bpf_${name})
endfunction()
