#!/usr/bin/env bash
# Removes the service installed by install.sh: deploy/uninstall.sh --system | --user (keeps data and config).
exec "$(dirname "$0")/install.sh" --uninstall "$@"
