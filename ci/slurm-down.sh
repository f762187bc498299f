#!/usr/bin/env bash
# Stop the single-node SLURM started by ci/slurm-up.sh, daemon by daemon through its pid file
# (never by process name: other services of the machine are left alone). Packages stay installed.
set -uo pipefail

stop() {  # $1 pid file, $2 name
    [[ -f "$1" ]] || return 0
    local pid
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
        echo "slurm-down: stopped $2"
    fi
    rm -f "$1"
}

stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
stop /run/slurmdbd.pid slurmdbd
stop /run/mysqld/mysqld.pid mariadbd
stop /run/munge/munged.pid munged
