#!/usr/bin/env bash
# Installs what harmonium needs beyond Go: the OpenBLAS shared library, which
# harmonium loads at run time for fast matrix products. Without it harmonium
# still works, with its slower pure-Go products.
set -eu
if ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0'; then
	exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="none"; fi
fi
if command -v apt-get >/dev/null 2>&1 && [ "$SUDO" != none ]; then
	echo "installing OpenBLAS (libopenblas0) for fast matrix products..." >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas0 >/dev/null
else
	echo "note: OpenBLAS not found; harmonium will use pure-Go products (several times slower)." >&2
	echo "      Install your system's OpenBLAS package (libopenblas0 on Debian/Ubuntu) for speed." >&2
fi
