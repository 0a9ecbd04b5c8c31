#!/bin/sh
# check_stages.sh ENGINE_DIR — the engine's layering, as ctest checks it (tests/CMakeLists.engine.cmake):
#   1. no file under ENGINE_DIR mentions a Lua header (`grep -r "lua.h" engine/` is empty): the engine can be
#      linked into any program;
#   2. no stage includes a later one. The stages, in pipeline order: core < io < filter < segment < measure <
#      transport < generate. A file may include its own stage, core/ and earlier stages; analysis/ stands apart:
#      it uses core/ only, and no stage uses it. #include "x.h" without a folder means the file's own folder.
# Prints one line per violation (file: what) and exits 1 if there is any, else prints a summary and exits 0.
set -u
dir=${1:?usage: check_stages.sh ENGINE_DIR}

rank() {
  case $1 in
    core) echo 0 ;; io) echo 1 ;; filter) echo 2 ;; segment) echo 3 ;; measure) echo 4 ;;
    transport) echo 5 ;; generate) echo 6 ;; analysis) echo 100 ;; *) echo -1 ;;
  esac
}

bad=$(
  grep -rn "lua\.h\|lauxlib\.h\|lualib\.h" "$dir" | sed 's/$/  (the engine includes Lua)/'
  for f in "$dir"/*/*.c "$dir"/*/*.h; do
    [ -e "$f" ] || continue
    stage=$(basename "$(dirname "$f")")
    r=$(rank "$stage")
    if [ "$r" -lt 0 ]; then echo "$f: '$stage' is not a stage"; continue; fi
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
      case $inc in */*) s=${inc%%/*} ;; *) s=$stage ;; esac
      rs=$(rank "$s")
      if [ "$s" = "$stage" ] || [ "$s" = core ]; then continue; fi
      if [ "$rs" -lt 0 ]; then echo "$f: includes $inc, outside the stages"
      elif [ "$stage" = analysis ] || [ "$s" = analysis ]; then echo "$f: includes $inc (analysis uses core only)"
      elif [ "$rs" -gt "$r" ]; then echo "$f: includes $inc (a later stage)"
      fi
    done
  done
)
if [ -n "$bad" ]; then
  echo "$bad"
  exit 1
fi
echo "$(ls "$dir"/*/*.c "$dir"/*/*.h | wc -l) engine files: no Lua header, no stage includes a later one"
