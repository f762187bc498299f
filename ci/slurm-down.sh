#!/usr/bin/env bash
# Stop what ci/slurm-up.sh started — only that: the daemons and files listed in its private folder's
# `started` file, newest first (its accounting database too), each daemon through its pid file (never by process name: other
# services of the machine are left alone) — then remove the private folder (its configuration, state
# and logs; SLURM_CI_KEEP=1 keeps it). Packages stay installed.
#   SLURM_CI_DIR    the private folder (default /run/mmpcbench-slurm)
set -uo pipefail

CONF=${SLURM_CI_DIR:-/run/mmpcbench-slurm}

stop() {  # $1 pid file
    [[ -f "$1" ]] || return 0
    local pid
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
        echo "slurm-down: stopped $(basename "$1" .pid)"
    fi
    rm -f "$1"
}

[[ -f "$CONF/started" ]] || exit 0
tac "$CONF/started" | while IFS= read -r entry; do
    case "$entry" in
        pid:*) stop "${entry#pid:}" ;;
        path:*) rm -f "${entry#path:}" ;;
        dir:*) rmdir "${entry#dir:}" 2>/dev/null ;;
        db:*) mariadb -e "DROP DATABASE IF EXISTS ${entry#db:}; DROP USER IF EXISTS 'mmpcbench_ci'@'localhost';" ;;
    esac
done
if [[ ${SLURM_CI_KEEP:-0} == 1 ]]; then
    rm -f "$CONF/started"
else
    rm -rf "$CONF"
fi
