# Build helpers shared by every folder, in the spirit of absl_cc_library:
#   crm_cc_library(NAME x SRCS a.cc HDRS a.h DEPS ...)   -> target crm_x, alias crm::x
#   crm_cc_binary(NAME x SRCS main.cc DEPS ...)          -> executable x
#   crm_cc_test(NAME x SRCS x_test.cc DEPS ... [LABELS pg kafka] [TIMEOUT s])
#   crm_proto_library(NAME x PROTOS crm/a/v1/a.proto [GRPC] DEPS ...) -> crm::x_proto
#   crm_descriptor_set(NAME x OUT x.pb PROTOS crm/a/v1/a.proto)  -> a FileDescriptorSet for the gateway
#   crm_sql_migrations(NAME x COMPONENT deals DIR migrations FUNCTION DealsMigrations) -> crm::x (embedded SQL)
# Our own code builds with warnings as errors; generated protobuf code does not.

set(CRM_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers)

function(crm_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  if(A_SRCS)
    add_library(crm_${A_NAME} STATIC ${A_SRCS} ${A_HDRS})
    target_compile_options(crm_${A_NAME} PRIVATE ${CRM_WARNINGS})
    target_include_directories(crm_${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(crm_${A_NAME} PUBLIC ${A_DEPS})
  else()
    add_library(crm_${A_NAME} INTERFACE)
    target_include_directories(crm_${A_NAME} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(crm_${A_NAME} INTERFACE ${A_DEPS})
  endif()
  add_library(crm::${A_NAME} ALIAS crm_${A_NAME})
endfunction()

function(crm_cc_binary)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_compile_options(${A_NAME} PRIVATE ${CRM_WARNINGS})
  target_include_directories(${A_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
endfunction()

# Tests get CRM_TEST_* environment from tools/crm test; LABELS "pg" / "kafka" mark tests that need
# the throwaway PostgreSQL cluster or the dev broker, so `ctest -LE pg` runs the pure unit tests alone.
function(crm_cc_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_compile_options(${A_NAME} PRIVATE ${CRM_WARNINGS})
  target_include_directories(${A_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${A_NAME} COMMAND ${A_NAME})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${A_NAME} PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()

# Compiles .proto files (paths relative to ${PROJECT_SOURCE_DIR}/proto) once into one static library.
function(crm_proto_library)
  cmake_parse_arguments(A "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(abs)
  foreach(p ${A_PROTOS})
    list(APPEND abs ${PROJECT_SOURCE_DIR}/proto/${p})
  endforeach()
  add_library(crm_${A_NAME}_proto STATIC ${abs})
  target_link_libraries(crm_${A_NAME}_proto PUBLIC protobuf::libprotobuf ${A_DEPS})
  target_include_directories(crm_${A_NAME}_proto PUBLIC ${PROJECT_BINARY_DIR}/proto)
  protobuf_generate(TARGET crm_${A_NAME}_proto LANGUAGE cpp
    IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto ${CRM_PROTO_IMPORT_DIRS}
    PROTOC_OUT_DIR ${PROJECT_BINARY_DIR}/proto)
  if(A_GRPC)
    target_link_libraries(crm_${A_NAME}_proto PUBLIC gRPC::grpc++)
    protobuf_generate(TARGET crm_${A_NAME}_proto LANGUAGE grpc
      GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
      PLUGIN "protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>"
      IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto ${CRM_PROTO_IMPORT_DIRS}
      PROTOC_OUT_DIR ${PROJECT_BINARY_DIR}/proto)
  endif()
  add_library(crm::${A_NAME}_proto ALIAS crm_${A_NAME}_proto)
endfunction()

# Embeds ordered SQL migration files (NNNN_name.sql) into a library exposing
#   const std::vector<crm::pg::Migration>& crm::<FUNCTION>();   (declared by the caller)
# with one {COMPONENT, NNNN, "NNNN_name.sql", <file text>} per file, byte for byte (the checksum Migrate()
# records is over that text). The SQL is read at configure time; adding, removing or editing a file re-runs
# CMake. Fails at configure time on a file without a version prefix, version 0, or a repeated version.
function(crm_sql_migrations)
  cmake_parse_arguments(A "" "NAME;COMPONENT;DIR;FUNCTION" "" ${ARGN})
  foreach(arg NAME COMPONENT DIR FUNCTION)
    if(NOT A_${arg})
      message(FATAL_ERROR "crm_sql_migrations: ${arg} is required")
    endif()
  endforeach()
  if(NOT A_FUNCTION MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "crm_sql_migrations: FUNCTION must be a C++ identifier, got '${A_FUNCTION}'")
  endif()
  if(A_COMPONENT MATCHES "[\"\\\\]")
    message(FATAL_ERROR "crm_sql_migrations: COMPONENT must not contain quotes or backslashes")
  endif()
  file(GLOB files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${A_DIR}/*.sql)
  list(SORT files)
  set(body "")
  set(seen_versions "")
  foreach(f ${files})
    # Editing a file must re-run CMake: file(READ) alone does not make it a configure dependency.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${f})
    get_filename_component(fname ${f} NAME)
    if(NOT fname MATCHES "^([0-9]+)_[^\"\\\\]*$")
      message(FATAL_ERROR "migration ${f}: name must be <number>_<name>.sql, e.g. 0001_init.sql")
    endif()
    math(EXPR version "${CMAKE_MATCH_1}")
    if(version LESS_EQUAL 0)
      message(FATAL_ERROR "migration ${f}: version must be > 0")
    endif()
    if(version IN_LIST seen_versions)
      message(FATAL_ERROR "migration ${f}: version ${version} is used by another file in ${A_DIR}")
    endif()
    list(APPEND seen_versions ${version})
    file(READ ${f} sql)
    string(FIND "${sql}" ")crmsql\"" clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "migration ${f}: contains the raw-string terminator )crmsql\"")
    endif()
    string(APPEND body "    {\"${A_COMPONENT}\", ${version}, \"${fname}\", R\"crmsql(${sql})crmsql\"},\n")
  endforeach()
  # Written verbatim (no @VAR@ or ${VAR} substitution: SQL may contain both), and only when it changed, so a
  # re-run of CMake does not recompile it.
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${A_NAME}_migrations.cc)
  file(WRITE ${out}.tmp
"// Generated by crm_sql_migrations from ${A_DIR}/*.sql; do not edit.
#include \"libs/pg/migrations.h\"
namespace crm {
const std::vector<crm::pg::Migration>& ${A_FUNCTION}();
const std::vector<crm::pg::Migration>& ${A_FUNCTION}() {
  static const auto* const kMigrations = new std::vector<crm::pg::Migration>{
${body}  };
  return *kMigrations;
}
}  // namespace crm
")
  file(COPY_FILE ${out}.tmp ${out} ONLY_IF_DIFFERENT)
  file(REMOVE ${out}.tmp)
  add_library(crm_${A_NAME} STATIC ${out})
  target_include_directories(crm_${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(crm_${A_NAME} PUBLIC crm::pg)
  add_library(crm::${A_NAME} ALIAS crm_${A_NAME})
endfunction()

# crm_descriptor_set(NAME <target> OUT <file.pb> PROTOS <paths relative to proto/>)
# Produces a FileDescriptorSet with every import and source info (what the gateway loads at run time):
#   protoc --include_imports --include_source_info --descriptor_set_out=<OUT> -I proto -I <imports> ...
# OUT relative to the current binary dir unless absolute. Target <NAME> builds it (part of "all"); its
# property CRM_DESCRIPTOR_SET_FILE holds the absolute path of the file.
function(crm_descriptor_set)
  cmake_parse_arguments(A "" "NAME;OUT" "PROTOS" ${ARGN})
  if(NOT A_NAME OR NOT A_OUT OR NOT A_PROTOS)
    message(FATAL_ERROR "crm_descriptor_set: NAME, OUT and PROTOS are required")
  endif()
  if(IS_ABSOLUTE ${A_OUT})
    set(out ${A_OUT})
  else()
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${A_OUT})
  endif()
  set(includes -I${PROJECT_SOURCE_DIR}/proto)
  foreach(dir ${CRM_PROTO_IMPORT_DIRS})
    list(APPEND includes -I${dir})
  endforeach()
  set(deps)
  foreach(p ${A_PROTOS})
    list(APPEND deps ${PROJECT_SOURCE_DIR}/proto/${p})
  endforeach()
  get_filename_component(out_dir ${out} DIRECTORY)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND protobuf::protoc --include_imports --include_source_info --descriptor_set_out=${out}
            ${includes} ${A_PROTOS}
    DEPENDS ${deps}
    COMMENT "protoc descriptor set ${A_OUT}"
    VERBATIM)
  add_custom_target(${A_NAME} ALL DEPENDS ${out})
  set_target_properties(${A_NAME} PROPERTIES CRM_DESCRIPTOR_SET_FILE ${out})
endfunction()
