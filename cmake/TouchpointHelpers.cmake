# touchpoint_library(NAME SOURCES ... DEPS ...)
# One static library per component, named tp_<NAME>, includable as "<component>/header.h".
# The DEPS list is the component's allowed dependencies: the link graph enforces the layering.
function(touchpoint_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(tp_${name} STATIC ${ARG_SOURCES})
  target_include_directories(tp_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(tp_${name} PUBLIC ${ARG_DEPS})
endfunction()

# touchpoint_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with CTest.
function(touchpoint_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main)
  gtest_discover_tests(${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} DISCOVERY_TIMEOUT 60)
endfunction()
