# The continuous-batching engine (issue 19): a scheduler over Model::forward_batch.
if(HFK_HAVE_RUNTIME)
    list(APPEND HFK_ENGINE_SOURCES
        ${CMAKE_CURRENT_LIST_DIR}/kv_pool.cpp
        ${CMAKE_CURRENT_LIST_DIR}/constraint_cache.cpp
        ${CMAKE_CURRENT_LIST_DIR}/engine.cpp)
endif()
