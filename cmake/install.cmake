# What `cmake --install` puts beside the tools and the library: a CMake package config
# (find_package(tcpkit) -> tcpkit::tcpkit), a pkg-config file (libtcpkit), and the settings for
# `cpack -G DEB`, a Debian package of all of it.
include(CMakePackageConfigHelpers)

set(TCPKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tcpkit)
install(EXPORT tcpkitTargets NAMESPACE tcpkit:: DESTINATION ${TCPKIT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tcpkitConfig.cmake.in
  ${CMAKE_BINARY_DIR}/tcpkitConfig.cmake INSTALL_DESTINATION ${TCPKIT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/tcpkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/tcpkitConfig.cmake ${CMAKE_BINARY_DIR}/tcpkitConfigVersion.cmake
  DESTINATION ${TCPKIT_CMAKE_DIR})

file(RELATIVE_PATH TCPKIT_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${CMAKE_CURRENT_LIST_DIR}/tcpkit.pc.in ${CMAKE_BINARY_DIR}/libtcpkit.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/libtcpkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(CPACK_PACKAGE_NAME tcpkit)
set(CPACK_PACKAGE_VENDOR "tcpkit")
set(CPACK_PACKAGE_CONTACT "tcpkit maintainers <tcpkit@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "raw-socket TCP diagnostics: handshake timing, SYN scan, stray-segment tests, socket states")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# dpkg-shlibdeps finds libc and libstdc++; libpcap is loaded with dlopen for capture filters
# only (src/io/capture.cpp), so it is named by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpcap0.8")
# tcpstate follow --diagram runs Graphviz's dot (and says so when it is missing).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "graphviz")
# The headers need these to compile against; the tools do not.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nlohmann-json3-dev, libexpected-dev")
include(CPack)
