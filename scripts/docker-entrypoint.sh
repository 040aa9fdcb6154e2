#!/bin/sh
# Entry point of the container image: say plainly when the /data volume is not
# writable (a host directory created by root, or by the reference's root image)
# instead of failing later inside SQLite or the log setup, then run one-api.
set -eu
data_dir=/data
if [ -d "$data_dir" ] && ! [ -w "$data_dir" ]; then
    echo "one-api: $data_dir is not writable by uid $(id -u); on the host run" \
        "'sudo chown -R $(id -u):$(id -g) <the directory mounted on $data_dir>'," \
        "or start the container with --user \"\$(stat -c %u:%g <that directory>)\"" >&2
    exit 1
fi
exec one-api "$@"
