# Third-party libraries, as targets the rest of the build links by one name whatever the mode:
#   smith::libbpf  smith::rdkafka  smith::simdjson  smith::yaml-cpp  smith::logging (fmt + spdlog)
#
# Default: Debian's shared libraries.
# SMITH_STATIC=ON: archives only, so that smithd, smithctl and the guest test programs link with
# -static (smith_static_executable below) and run on any x86_64 glibc system from CentOS 7 on.
# Debian ships static archives of libbpf, libelf, zlib, zstd, OpenSSL and yaml-cpp; librdkafka
# (without Cyrus SASL), simdjson, fmt and spdlog come from packaging/build-static-deps.sh, which
# builds them from Debian's source packages.
find_package(PkgConfig REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)

add_library(smith_dep_logging INTERFACE)
add_library(smith::logging ALIAS smith_dep_logging)
add_library(smith_dep_libbpf INTERFACE)
add_library(smith::libbpf ALIAS smith_dep_libbpf)
add_library(smith_dep_rdkafka INTERFACE)
add_library(smith::rdkafka ALIAS smith_dep_rdkafka)
add_library(smith_dep_simdjson INTERFACE)
add_library(smith::simdjson ALIAS smith_dep_simdjson)
add_library(smith_dep_yaml INTERFACE)
add_library(smith::yaml-cpp ALIAS smith_dep_yaml)

if(NOT SMITH_STATIC)
  pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
  pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
  find_package(simdjson REQUIRED)
  target_link_libraries(smith_dep_logging INTERFACE fmt::fmt spdlog::spdlog)
  target_link_libraries(smith_dep_libbpf INTERFACE PkgConfig::LIBBPF)
  target_link_libraries(smith_dep_rdkafka INTERFACE PkgConfig::RDKAFKA)
  target_link_libraries(smith_dep_simdjson INTERFACE simdjson::simdjson)
  target_link_libraries(smith_dep_yaml INTERFACE yaml-cpp)
  function(smith_static_executable target)
  endfunction()
  return()
endif()

set(SMITH_STATIC_DEPS "${PROJECT_BINARY_DIR}/static-deps" CACHE PATH
  "where packaging/build-static-deps.sh puts librdkafka.a, libsimdjson.a, libfmt.a and libspdlog.a")
message(STATUS "smith: static build; librdkafka, simdjson, fmt and spdlog from Debian sources in ${SMITH_STATIC_DEPS}")
execute_process(COMMAND "${PROJECT_SOURCE_DIR}/packaging/build-static-deps.sh" --out "${SMITH_STATIC_DEPS}"
  RESULT_VARIABLE static_deps_rc)
if(NOT static_deps_rc EQUAL 0)
  message(FATAL_ERROR "smith: packaging/build-static-deps.sh failed (exit ${static_deps_rc}); see its output above")
endif()

# Finds lib<name>.a or fails naming the Debian package that has it.
function(smith_find_archive var name package)
  find_library(${var} NAMES lib${name}.a NO_CACHE)
  if(NOT ${var})
    message(FATAL_ERROR "smith: no static lib${name}.a (apt-get install ${package})")
  endif()
  set(${var} "${${var}}" PARENT_SCOPE)
endfunction()
smith_find_archive(SMITH_A_BPF bpf libbpf-dev)
smith_find_archive(SMITH_A_ELF elf libelf-dev)
smith_find_archive(SMITH_A_Z z zlib1g-dev)
smith_find_archive(SMITH_A_ZSTD zstd libzstd-dev)
smith_find_archive(SMITH_A_SSL ssl libssl-dev)
smith_find_archive(SMITH_A_CRYPTO crypto libssl-dev)
smith_find_archive(SMITH_A_YAML yaml-cpp libyaml-cpp-dev)

# fmt and spdlog compiled once, against Debian's headers of the same versions.
target_compile_definitions(smith_dep_logging INTERFACE SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
get_target_property(spdlog_includes spdlog::spdlog INTERFACE_INCLUDE_DIRECTORIES)
get_target_property(fmt_includes fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(smith_dep_logging INTERFACE ${spdlog_includes} ${fmt_includes})
target_link_libraries(smith_dep_logging INTERFACE "${SMITH_STATIC_DEPS}/lib/libspdlog.a"
  "${SMITH_STATIC_DEPS}/lib/libfmt.a" Threads::Threads)

pkg_check_modules(LIBBPF REQUIRED libbpf) # the include directories only
target_include_directories(smith_dep_libbpf INTERFACE ${LIBBPF_INCLUDE_DIRS})
target_link_libraries(smith_dep_libbpf INTERFACE ${SMITH_A_BPF} ${SMITH_A_ELF} ${SMITH_A_ZSTD} ${SMITH_A_Z})

target_include_directories(smith_dep_rdkafka INTERFACE "${SMITH_STATIC_DEPS}/include")
target_link_libraries(smith_dep_rdkafka INTERFACE "${SMITH_STATIC_DEPS}/lib/librdkafka.a"
  ${SMITH_A_SSL} ${SMITH_A_CRYPTO} ${SMITH_A_ZSTD} ${SMITH_A_Z} Threads::Threads ${CMAKE_DL_LIBS} m rt)

target_include_directories(smith_dep_simdjson INTERFACE "${SMITH_STATIC_DEPS}/include")
target_link_libraries(smith_dep_simdjson INTERFACE "${SMITH_STATIC_DEPS}/lib/libsimdjson.a")

get_target_property(yaml_includes yaml-cpp INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(smith_dep_yaml INTERFACE ${yaml_includes})
target_link_libraries(smith_dep_yaml INTERFACE ${SMITH_A_YAML})

# Links `target` with -static: no dynamic section, no loader, no shared library at run time.
function(smith_static_executable target)
  target_link_options(${target} PRIVATE -static)
  target_compile_definitions(${target} PRIVATE SMITH_STATIC_BUILD)
endfunction()
