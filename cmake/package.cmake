# The Debian packages, built by CPack from the release build:
#   sluice         the tool, its manual page (share/man/man1/sluice.1.gz) and its bash and zsh
#                  completions
#   libsluice-dev  the headers, the static libraries and the CMake package (find_package)
# cd build/release && cpack -G DEB   (scripts/test.sh's package stage builds, unpacks, runs and
# lints them; README "Packages").

# What each package holds beyond the install rules of the targets (COMPONENT tool / dev).
set(_doc_tool ${CMAKE_INSTALL_DATAROOTDIR}/doc/sluice)
set(_doc_dev ${CMAKE_INSTALL_DATAROOTDIR}/doc/libsluice-dev)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/sluice.1.gz ${PROJECT_BINARY_DIR}/changelog.Debian.gz
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/docs/sluice.1 > ${PROJECT_BINARY_DIR}/sluice.1.gz
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/packaging/changelog >
          ${PROJECT_BINARY_DIR}/changelog.Debian.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/sluice.1 ${PROJECT_SOURCE_DIR}/packaging/changelog
  COMMENT "Compressing the manual page and the changelog")
add_custom_target(sluice_package_files ALL
  DEPENDS ${PROJECT_BINARY_DIR}/sluice.1.gz ${PROJECT_BINARY_DIR}/changelog.Debian.gz)
install(FILES ${PROJECT_BINARY_DIR}/sluice.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT tool)
install(FILES completions/sluice.bash DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
        RENAME sluice COMPONENT tool)
install(FILES completions/_sluice DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/zsh/vendor-completions
        COMPONENT tool)
install(FILES packaging/copyright ${PROJECT_BINARY_DIR}/changelog.Debian.gz
        DESTINATION ${_doc_tool} COMPONENT tool)
install(FILES packaging/copyright ${PROJECT_BINARY_DIR}/changelog.Debian.gz
        DESTINATION ${_doc_dev} COMPONENT dev)
install(FILES README.md docs/cli.md DESTINATION ${_doc_tool} COMPONENT tool)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "sluice maintainers <maintainers@sluice.invalid>")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL tool dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME sluice)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOL_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps: the libraries the tool links
set(CPACK_DEBIAN_TOOL_PACKAGE_SUGGESTS "redis-server, parallel")
set(CPACK_DEBIAN_TOOL_DESCRIPTION
  "run commands or HTTP requests for many inputs, within limits, resumable
sluice run does GNU parallel's and xargs' job with their command line (:::,
::::, -0, --colsep, -n, -X) and adds a results file that a rerun resumes from,
rate limits (per second, per window, per key, adaptive, shared through Redis),
retries and a progress line. sluice http sends an HTTP request per input.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsluice-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libboost1.81-dev, libboost-filesystem1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, libssl-dev, libhiredis-dev, pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "C++20 library for running many asynchronous tasks under control
Limits (concurrency, GCRA rate, sliding windows, per key, adaptive, on Redis),
runners native to Boost.Asio coroutines (run_on_each, amap, task_scope),
retries, timeouts, offload to threads and processes, batching and JSON Lines
results files that survive a crash. Headers, static libraries, CMake package.")
include(CPack)
