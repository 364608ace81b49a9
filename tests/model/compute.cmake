# The compute helper's tests: kernels against scalar references, and every forward pass against
# ../shared/reference/forward.
hfk_add_gtest(test_model_compute LABELS unit SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/test_kernels.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_forward.cpp)
# Test discovery runs the binary without the CTest environment: compile in the fallback location.
target_compile_definitions(test_model_compute PRIVATE HFK_TEST_SHARED_DIR="${HFK_SHARED_DIR}")
