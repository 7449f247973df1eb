# evb_add_subdirs(): add_subdirectory() for every child folder of the current source dir
# that has a CMakeLists.txt, in name order. Lets each module own its folder's build file.
function(evb_add_subdirs)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
       CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child}
       AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# evb_unit_test(name SOURCES... LIBS lib...): a CUnit test binary registered with ctest.
function(evb_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT EVB_STRICT_SOURCES)
    # Developer builds while a test is being written (configure with
    # -DEVB_STRICT_SOURCES=OFF): skip the test loudly instead of failing the configure.
    foreach(src ${T_SOURCES})
      if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${src})
        message(WARNING "evb_unit_test(${name}): ${src} is missing; test skipped")
        return()
      endif()
    endforeach()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${EVB_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CUNIT)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit
    ENVIRONMENT "EVB_SHARED_TESTDATA=${PROJECT_SOURCE_DIR}/../shared/testdata")
endfunction()
