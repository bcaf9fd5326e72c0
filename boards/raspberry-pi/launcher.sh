#!/bin/sh
# bin/host-edge of a self-contained bundle (the ARMv6 one, for Pi Zero W and
# Pi 1). The bundle carries its own C library in lib/ (Debian's armel glibc:
# ARMv5TE code, which an ARM1176 runs), because Raspberry Pi OS's own armhf
# libraries cannot be linked against from here and Debian's armhf ones are
# ARMv7. This starts the real host, lib/host-edge, through the bundled
# loader, so that it and every provider library it dlopens use lib/ and
# never the system's libraries. The system needs no C library at all.
#
#   HOST_EDGE_PROVIDERS   where provider libraries are looked up first
#                         (default: the bundle's providers/);
#   HOST_EDGE_EMULATOR    a command to run the ARM loader under, to try the
#                         bundle on another machine: "qemu-arm -cpu arm1176".
set -eu
here=$(dirname "$(readlink -f "$0")")
lib=$(readlink -f "$here/../lib")
: "${HOST_EDGE_PROVIDERS:=$(readlink -f "$here/../providers")}"
export HOST_EDGE_PROVIDERS
# shellcheck disable=SC2086 # the emulator is a command with its arguments
exec ${HOST_EDGE_EMULATOR:-} "$lib/ld-linux.so.3" --library-path "$lib" --argv0 "$0" "$lib/host-edge" "$@"
