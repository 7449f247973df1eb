# Included from tests/CMakeLists.txt in the normal (non-fuzz) builds: registers the short fuzz
# run (tests/fuzz/smoke.sh: builds a separate clang fuzz build under this build dir, replays
# every target's corpus and runs 20,000 fixed-seed mutations) as the ctest test fuzz_smoke,
# label fuzz-smoke.
# smoke.sh exits 77 when clang has no libFuzzer: the test then counts as skipped.
# Leave it out with -DEVB_FUZZ_SMOKE=OFF (or ctest -LE fuzz-smoke). Not registered in the
# ASan+UBSan build: the fuzz build is already ASan+UBSan, so the sanitizer suite would only
# build and run the same binaries a second time.
option(EVB_FUZZ_SMOKE "Run the short libFuzzer smoke test in ctest when clang is available" ON)
find_program(EVB_CLANG clang)
if(EVB_FUZZ_SMOKE AND EVB_CLANG AND NOT EVB_SANITIZE)
  add_test(NAME fuzz_smoke COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/smoke.sh)
  set_tests_properties(fuzz_smoke PROPERTIES LABELS fuzz-smoke SKIP_RETURN_CODE 77 TIMEOUT 900
    ENVIRONMENT "FUZZ_BUILD=${CMAKE_BINARY_DIR}/fuzz-smoke;FUZZ_CC=${EVB_CLANG}")
endif()
