# smith_bpf_object(NAME <name> SOURCE <file.bpf.c> [DEPENDS <headers...>])
#
# Compiles one BPF C source with clang -target bpf against the checked-in
# vmlinux.h, generates its libbpf skeleton with `bpftool gen skeleton`, and
# exposes both as the INTERFACE target <name>_skel: link it and include
# "<name>.skel.h".
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(SMITH_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(SMITH_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "smith: no vmlinux.h for ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(smith_bpf_object)
  cmake_parse_arguments(ARG "" "NAME;SOURCE" "DEPENDS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_SOURCE)
    message(FATAL_ERROR "smith_bpf_object: NAME and SOURCE are required")
  endif()
  get_filename_component(src "${ARG_SOURCE}" ABSOLUTE)
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/bpf")
  set(obj_debug "${out_dir}/${ARG_NAME}.debug.bpf.o")
  set(obj "${out_dir}/${ARG_NAME}.bpf.o")
  set(skel "${out_dir}/${ARG_NAME}.skel.h")
  set(vmlinux_dir "${PROJECT_SOURCE_DIR}/vmlinux/${SMITH_BPF_ARCH}")

  add_custom_command(
    OUTPUT "${obj}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}"
    # -mcpu=v3: 32-bit jumps and atomic exchange/fetch-add (5.12+; smith needs 5.17 for bpf_loop).
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -mcpu=v3
            -D__TARGET_ARCH_${SMITH_BPF_ARCH} -DSMITH_BPF
            -I "${vmlinux_dir}" -I "${PROJECT_SOURCE_DIR}/include"
            -I "${PROJECT_SOURCE_DIR}/bpf"
            -c "${src}" -o "${obj_debug}"
    # Linking through bpftool strips DWARF, keeping BTF: the skeleton embeds a small object.
    COMMAND ${BPFTOOL} gen object "${obj}" "${obj_debug}"
    DEPENDS "${src}" ${ARG_DEPENDS} "${vmlinux_dir}/vmlinux.h"
    COMMENT "BPF ${ARG_NAME}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT "${skel}"
    COMMAND ${BPFTOOL} gen skeleton "${obj}" name ${ARG_NAME} > "${skel}"
    DEPENDS "${obj}"
    COMMENT "BPF skeleton ${ARG_NAME}.skel.h"
    VERBATIM)
  add_custom_target(${ARG_NAME}_skel_gen DEPENDS "${skel}")
  add_library(${ARG_NAME}_skel INTERFACE)
  add_dependencies(${ARG_NAME}_skel ${ARG_NAME}_skel_gen)
  target_include_directories(${ARG_NAME}_skel INTERFACE "${out_dir}")
endfunction()
