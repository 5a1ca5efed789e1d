#!/usr/bin/env bash
# The package test: builds the .deb and .rpm packages of both binaries from one release build, lints them, checks
# what they contain, checks the units (syntax and exposure), then installs, enrolls, upgrades and purges the real
# .deb packages in a fresh minimal Debian root, against a real server on loopback.
#
# Needs root (chroot, mount), cargo-deb, cargo-generate-rpm, lintian, rpmlint, debootstrap and systemd-analyze
# (.ci/run installs them). The Debian root is cached under the target directory; LIFELINE_DEBIAN_MIRROR overrides
# the mirror, which is otherwise the one apt uses here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "packaging/test.sh needs root (chroot, mount)" >&2
    exit 1
fi

target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/packages
cache=$target/pkg-test
suite=bookworm
mkdir -p "$out" "$cache"
work=$(mktemp -d)
root=$work/root
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    mountpoint -q "$root/proc" && umount "$root/proc"
    rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

step() { printf '\n== %s\n' "$*"; }
fail() {
    printf 'FAILED: %s\n' "$*" >&2
    for log in "$work"/*.log; do
        [ -e "$log" ] && printf -- '--- %s\n' "$log" >&2 && cat "$log" >&2
    done
    exit 1
}

# Waits (at most $3 seconds) for a line matching $2 in file $1 and prints it.
wait_line() {
    local deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    fail "no line matching '$2' in $1 within $3 s"
}

# Waits (at most $2 seconds) until the command after it succeeds.
wait_until() {
    local limit=$1 deadline=$((SECONDS + $1))
    shift
    while ((SECONDS < deadline)); do
        if "$@"; then return 0; fi
        sleep 0.5
    done
    fail "timed out after $limit s waiting for: $*"
}

version=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "lifeline-agent"))')

step "release build and packages ($version)"
rm -f "$out"/lifeline-*
packaging/build.sh
deb() { echo "$out/lifeline-${1}_$version-1_$(dpkg --print-architecture).deb"; }
rpm_file() { echo "$out/lifeline-$1-$version-1.$(uname -m).rpm"; }
# The same binaries under a higher package version, for the upgrade test.
cargo deb --no-build --locked -p lifeline-agent --deb-revision 2 -o "$work/"
upgrade_deb=$(echo "$work"/lifeline-agent_"$version"-2_*.deb)

step "lintian and rpmlint"
# Warnings fail too: each accepted one is overridden in the package (deb) or filtered (rpm), with its reason.
lintian --fail-on error,warning --tag-display-limit 0 "$(deb agent)" "$(deb server)"
rpmlint --strict -r packaging/rpm/rpmlintrc "$(rpm_file agent)" "$(rpm_file server)"

step "package contents"
# Exactly these files, with these modes: the binary, its unit, its config, the lintian overrides and what Debian
# requires of every package (copyright, changelog); nothing writable by others.
expect_deb() {
    local deb=$1 name=$2
    diff -u <(printf '%s\n' \
        "-rw-r--r-- ./etc/lifeline/$name.toml" \
        "-rw-r--r-- ./usr/lib/systemd/system/lifeline-$name.service" \
        "-rwxr-xr-x ./usr/bin/lifeline-$name" \
        "-rw-r--r-- ./usr/share/doc/lifeline-$name/changelog.Debian.gz" \
        "-rw-r--r-- ./usr/share/doc/lifeline-$name/copyright" \
        "-rw-r--r-- ./usr/share/lintian/overrides/lifeline-$name" | sort) \
        <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $6}' | sort) || fail "unexpected contents in $deb"
    dpkg-deb -c "$deb" | awk '{print $1}' | grep -E '^.{8}w' && fail "$deb has a file writable by others"
    dpkg-deb -I "$deb" conffiles | grep -qx "/etc/lifeline/$name.toml" || fail "$name.toml is not a conffile"
}
expect_rpm() {
    local rpm=$1 name=$2
    diff -u <(printf '%s\n' \
        "-rw-r--r-- /etc/lifeline/$name.toml" \
        "-rwxr-xr-x /usr/bin/lifeline-$name" \
        "-rw-r--r-- /usr/lib/systemd/system/lifeline-$name.service" | sort) \
        <(rpm -qlvp "$rpm" | awk '{print $1, $9}' | sort) || fail "unexpected contents in $rpm"
    rpm -qp --configfiles "$rpm" | grep -qx "/etc/lifeline/$name.toml" || fail "$name.toml is not %config in $rpm"
    rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" | grep -qx "cn /etc/lifeline/$name.toml" ||
        fail "$name.toml is not %config(noreplace) in $rpm"
}
for name in agent server; do
    expect_deb "$(deb "$name")" "$name"
    expect_rpm "$(rpm_file "$name")" "$name"
done
# No enrollment token anywhere in a package: files, maintainer scripts, scriptlets. A token's body (address, 64 hex
# digits of fingerprint, secret) is over 100 characters of base64url; shorter matches are strings in the binaries.
token_pattern='ll1\.[A-Za-z0-9_-]{100,}'
for name in agent server; do
    dpkg-deb -R "$(deb "$name")" "$work/unpacked-$name-deb"
    mkdir "$work/unpacked-$name-rpm"
    rpm2archive -n - <"$(rpm_file "$name")" | tar -x -C "$work/unpacked-$name-rpm"
    rpm -qp --scripts "$(rpm_file "$name")" >"$work/unpacked-$name-rpm/scriptlets"
    if grep -rqaE "$token_pattern" "$work/unpacked-$name-deb" "$work/unpacked-$name-rpm"; then
        fail "a lifeline-$name package holds something that looks like an enrollment token"
    fi
done
# The RPM scriptlets are not run here (there is no RPM root); at least they must parse as the shell rpm runs them.
for script in packaging/rpm/*.sh; do sh -n "$script" || fail "$script is not valid sh"; done

step "units: exposure (systemd-analyze security)"
# Thresholds on systemd's 0-100 scale: 25 is an exposure of 2.5.
systemd-analyze security --offline=true --no-pager --threshold=25 packaging/lifeline-server.service | tail -1
systemd-analyze security --offline=true --no-pager --threshold=50 packaging/lifeline-agent.service | tail -1

step "units: systemd-analyze verify"
# The units as packaged, beside this machine's own systemd units (which a minimal root does not have); any message,
# even a warning about an unknown directive, fails.
verify_root=$work/verify
mkdir -p "$verify_root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$verify_root/usr/lib/systemd/"
for name in agent server; do dpkg-deb -x "$(deb "$name")" "$verify_root"; done
messages=$(systemd-analyze verify --root="$verify_root" lifeline-agent.service lifeline-server.service 2>&1) ||
    fail "systemd-analyze verify: $messages"
[ -z "$messages" ] || fail "systemd-analyze verify: $messages"
echo "both units verified"

# The Debian archive apt uses here (not the security one), so the test reaches no other host.
apt_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        if [ -f "$f" ]; then grep -vE '^\s*#' "$f"; fi
    done | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' '
}

step "fresh Debian $suite root"
root_tar=$cache/$suite-minbase.tar
if [ ! -s "$root_tar" ]; then
    mirror=${LIFELINE_DEBIAN_MIRROR:-$(apt_mirror || true)}
    debootstrap --variant=minbase "$suite" "$work/fresh" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" ||
        fail "debootstrap failed"
    tar --numeric-owner -C "$work/fresh" -cf "$root_tar.part" . && mv "$root_tar.part" "$root_tar"
    rm -rf "$work/fresh"
fi
mkdir "$root"
tar --numeric-owner -C "$root" -xf "$root_tar"
mount -t proc proc "$root/proc"
# What a fresh root holds, to compare with what is left after purge.
inventory() {
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./var/lib/dpkg -o -path ./var/log \
        -o -path ./var/cache -o -path ./run \) -prune -o -print | sort)
}
inventory >"$work/before.txt"
cp "$(deb agent)" "$root/tmp/lifeline-agent.deb"
cp "$(deb server)" "$root/tmp/lifeline-server.deb"
cp "$upgrade_deb" "$root/tmp/lifeline-agent-upgrade.deb"

step "server on loopback (from the build, outside the root)"
data=$work/server-data
server_bin=$target/release/lifeline-server
admin_token=$(LIFELINE_DATA_DIR=$data "$server_bin" user add admin --tier admin | sed -n 's/^API token: *//p')
LIFELINE_DATA_DIR=$data LIFELINE_LOG=info "$server_bin" serve --quic 127.0.0.1:0 --api 127.0.0.1:0 \
    >"$work/server.log" 2>&1 &
pids+=($!)
quic=$(wait_line "$work/server.log" '^quic listening on ' 30 | sed 's/^quic listening on //')
api=$(wait_line "$work/server.log" '^api listening on ' 30 | sed 's/^api listening on //')
cli() { LIFELINE_API=$api LIFELINE_TOKEN=$admin_token LIFELINE_CA=$data/pki/ca.pem "$server_bin" "$@"; }
agent_json() { cli agent show "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)$2)"; }
token=$(LIFELINE_DATA_DIR=$data "$server_bin" token create --server "$quic" --uses 1 2>/dev/null)

step "agent: install with a preseeded token, enroll on first start, snapshot"
LIFELINE_ENROLL_TOKEN=$token chroot "$root" dpkg -i /tmp/lifeline-agent.deb >"$work/dpkg-agent.log"
[ "$(stat -c '%a %U' "$root/etc/lifeline/enroll.token")" = "600 root" ] || fail "the token file is not 0600 root"
[ "$(stat -c '%a' "$root/var/lib/lifeline-agent")" = "700" ] || fail "the state directory is not 0700"
# Start the agent as its unit would: the unit's own command line, with the directory systemd would make.
unit_dir=/usr/lib/systemd/system
exec_start=$(sed -n 's/^ExecStart=//p' "$root$unit_dir/lifeline-agent.service")
start_agent() {
    install -d -m 0755 "$root/run/lifeline-agent"
    # shellcheck disable=SC2086 # the unit's command line, split into words as systemd does
    LIFELINE_LOG=info chroot "$root" $exec_start >"$work/$1.log" 2>&1 &
    agent_pid=$!
    pids+=("$agent_pid")
}
stop_agent() {
    kill -TERM "$agent_pid"
    wait "$agent_pid" || fail "the agent did not stop cleanly on SIGTERM"
}
start_agent agent
wait_line "$work/agent.log" 'enrolled with the preseeded token' 60
wait_line "$work/agent.log" 'enrollment token deleted' 5
wait_line "$work/agent.log" 'link: connected server=' 30
[ ! -e "$root/etc/lifeline/enroll.token" ] || fail "the token file is still there after enrollment"
agent_id=$(sed -n 's/^agent_id = "\(.*\)"$/\1/p' "$root/var/lib/lifeline-agent/identity.toml")
[ -n "$agent_id" ] || fail "no agent id in identity.toml"
[ "$(stat -c '%a' "$root/var/lib/lifeline-agent/agent.key")" = "600" ] || fail "agent.key is not 0600"
has_snapshots() { [ "$(agent_json "$agent_id" '["snapshot_count"]')" -ge "$1" ]; }
wait_until 30 has_snapshots 1
# The token's secret, decoded through the environment so that it is on no command line here either.
secret=$(TOKEN=$token python3 -c 'import base64,os; t=os.environ["TOKEN"][4:]; print(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)).decode().split("\n")[2])')
if grep -rqF "$secret" "$work"/*.log "$root/etc" "$root/var/lib/lifeline-agent"; then
    fail "the token's secret was written to a log or left on disk"
fi
echo "agent $agent_id enrolled and sent a snapshot"

step "agent: upgrade keeps identity, edited config and spool"
sed -i 's/^top_processes = 5$/top_processes = 7/' "$root/etc/lifeline/agent.toml"
stop_agent
chroot "$root" dpkg -i /tmp/lifeline-agent-upgrade.deb >"$work/dpkg-upgrade.log"
grep -q "lifeline-agent.*$version-2" <(chroot "$root" dpkg -l lifeline-agent) || fail "the upgrade was not installed"
grep -qx 'top_processes = 7' "$root/etc/lifeline/agent.toml" || fail "the upgrade replaced the edited config"
[ -d "$root/var/lib/lifeline-agent/spool" ] || fail "the upgrade lost the spool"
start_agent agent-upgraded
line=$(wait_line "$work/agent-upgraded.log" 'lifeline-agent started' 30)
[[ $line == *"agent_id=$agent_id"* ]] || fail "after the upgrade the agent is not $agent_id: $line"
wait_line "$work/agent-upgraded.log" 'link: connected server=' 30
grep -q 'not enrolled' "$work/agent-upgraded.log" && fail "the upgraded agent tried to enroll again"
wait_until 30 has_snapshots 2
[ "$(cli agent list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
    fail "the server sees more than one agent after the upgrade"
echo "agent $agent_id reconnected after the upgrade"

step "agent: remove keeps the identity, purge leaves nothing"
stop_agent
chroot "$root" dpkg --remove lifeline-agent >>"$work/dpkg-agent.log"
[ -e "$root/var/lib/lifeline-agent/identity.toml" ] || fail "remove deleted the agent's identity"
chroot "$root" dpkg --purge lifeline-agent >>"$work/dpkg-agent.log"

step "server package: install, first start as its own user, purge"
chroot "$root" dpkg -i /tmp/lifeline-server.deb >"$work/dpkg-server.log"
chroot "$root" getent passwd lifeline-server >/dev/null || fail "no lifeline-server user"
server_exec=$(sed -n 's/^ExecStart=//p' "$root$unit_dir/lifeline-server.service")
# The unit's command line as the unit's user; only the addresses change, so the test never collides with a port.
# shellcheck disable=SC2086
LIFELINE_LOG=info chroot --userspec=lifeline-server:lifeline-server "$root" $server_exec \
    --quic 127.0.0.1:0 --api 127.0.0.1:0 >"$work/packaged-server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
wait_line "$work/packaged-server.log" '^api listening on ' 30
server_uid=$(chroot "$root" id -u lifeline-server)
[ "$(stat -c '%a %u' "$root/var/lib/lifeline-server")" = "700 $server_uid" ] ||
    fail "/var/lib/lifeline-server is not 0700 lifeline-server"
keys=("$root"/var/lib/lifeline-server/pki/*.key)
[ -e "${keys[0]}" ] || fail "the server made no CA key"
for f in "${keys[@]}"; do
    [ "$(stat -c '%a %u' "$f")" = "600 $server_uid" ] || fail "$f is not 0600 lifeline-server"
done
[ -e "$root/var/lib/lifeline-server/lifeline.db" ] || fail "the server made no database"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the packaged server did not stop cleanly on SIGTERM"
chroot "$root" dpkg --purge lifeline-server >>"$work/dpkg-server.log"

step "nothing of Lifeline left in the root"
umount "$root/proc"
if chroot "$root" getent passwd lifeline-server || chroot "$root" getent group lifeline-server; then
    fail "the lifeline-server user or group survived purge"
fi
# The shadow tools keep the previous passwd and group files as backups ending in "-"; those are not ours to edit.
leftovers=$(comm -13 "$work/before.txt" <(inventory) | grep -vE '^\./etc/(passwd|group|shadow|gshadow)-$' || true)
[ -z "$leftovers" ] || fail "purge left these behind: $leftovers"
named=$(find "$root" -xdev -iname '*lifeline*' ! -path "$root/tmp/*")
[ -z "$named" ] || fail "purge left these behind: $named"
echo "packages OK"
