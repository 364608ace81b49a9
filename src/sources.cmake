# The engine's sources, one list per component; each component owns its own file.
foreach(component util tokenizer model models kernels hub runtime inspect chat constrain
                  engine)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${component}/sources.cmake)
        include(${CMAKE_CURRENT_LIST_DIR}/${component}/sources.cmake)
    endif()
endforeach()
