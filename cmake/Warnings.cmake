# Warning flags for every target of the project.
function(ps_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow
    -Wformat=2 -Wno-format-nonliteral)
  if(POWERSYNC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
