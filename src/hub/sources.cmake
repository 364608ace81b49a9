list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/validate.cpp
    ${CMAKE_CURRENT_LIST_DIR}/http.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cache.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cache_manage.cpp
    ${CMAKE_CURRENT_LIST_DIR}/blob_hash.cpp
    ${CMAKE_CURRENT_LIST_DIR}/file_follower.cpp
    ${CMAKE_CURRENT_LIST_DIR}/download.cpp
    ${CMAKE_CURRENT_LIST_DIR}/weight_selection.cpp
    ${CMAKE_CURRENT_LIST_DIR}/hub.cpp)
