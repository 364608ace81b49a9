# The C ABI layer: thin functions that check arguments, call the engine and map errors.
set(HFK_CAPI_SOURCES)
foreach(f errors version tokenizer_api model_api session_api hub_api)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/src/${f}.cpp)
        list(APPEND HFK_CAPI_SOURCES ${CMAKE_CURRENT_LIST_DIR}/src/${f}.cpp)
    endif()
endforeach()
