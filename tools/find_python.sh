#!/bin/sh
# Print the first of the interpreters named (python3.11, python3.13, a path, ...) that runs,
# for the Makefile. A pyenv shim of a version that is installed but not selected by
# `pyenv global`/`pyenv local` exists and fails; then pyenv's own copy of that version is
# used. Prints nothing and exits 1 if none runs.
for name in "$@"; do
    if "$name" -c '' >/dev/null 2>&1; then
        echo "$name"
        exit 0
    fi
    root=$(pyenv root 2>/dev/null) || continue
    case $name in
        python3.*) ;;
        *) continue ;;
    esac
    for exe in "$root"/versions/"${name#python}".*/bin/"$name"; do
        if [ -x "$exe" ] && "$exe" -c '' >/dev/null 2>&1; then
            echo "$exe"
            exit 0
        fi
    done
done
exit 1
