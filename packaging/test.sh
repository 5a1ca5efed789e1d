#!/usr/bin/env bash
# The package test: builds the .deb and .rpm packages of the agent, the server and the desktop program from the
# release build, lints them, checks what they contain, checks the units (syntax and exposure), then installs, enrolls,
# upgrades and purges the real .deb packages in a fresh minimal Debian root, against a real server on loopback; then
# again with systemd running, in a second Debian root booted in a container.
#
# Needs root (chroot, mount, systemd-nspawn), cargo-deb, cargo-generate-rpm, lintian, rpmlint, debootstrap,
# systemd-analyze, systemd-nspawn, nsenter and desktop-file-validate (./test installs them under CI=true). The Debian roots are
# cached under the target directory; LIFELINE_DEBIAN_MIRROR overrides the mirror, which is otherwise the one apt uses
# here.
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
container_pid=

# Powers the container off (systemd-nspawn asks its systemd to halt on SIGTERM, and ends it at once on a second
# one), waiting a bounded time. Its mounts are in its own namespace and go with it.
stop_container() {
    local signal
    for signal in TERM TERM KILL; do
        kill "-$signal" "$container_pid" 2>/dev/null || break
        for _ in {1..40}; do
            kill -0 "$container_pid" 2>/dev/null || break 2
            sleep 0.5
        done
    done
    wait "$container_pid" 2>/dev/null || true
    container_pid=
}

cleanup() {
    [ -z "$container_pid" ] || stop_container
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
    if [ -n "$container_pid" ] && [ -n "${leader:-}" ]; then
        printf -- '--- the journal of the container\n' >&2
        inside journalctl --no-pager --output short-monotonic >&2 || true
    fi
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
lintian --fail-on error,warning --tag-display-limit 0 "$(deb agent)" "$(deb server)" "$(deb help)"
rpmlint --strict -r packaging/rpm/rpmlintrc "$(rpm_file agent)" "$(rpm_file server)" "$(rpm_file help)"

step "package contents"
# Exactly these files, with these modes: the package's own files, then for Debian the lintian overrides and what
# Debian requires of every package (copyright, changelog); nothing writable by others; its one file in /etc a
# conffile / %config(noreplace). Arguments: the package file, its name, its file in /etc, then its other files.
expect_deb() {
    local deb=$1 name=$2 config=$3
    shift 3
    diff -u <(printf '%s\n' "-rw-r--r-- $config" "$@" \
        "-rw-r--r-- /usr/share/doc/lifeline-$name/changelog.Debian.gz" \
        "-rw-r--r-- /usr/share/doc/lifeline-$name/copyright" \
        "-rw-r--r-- /usr/share/lintian/overrides/lifeline-$name" | sed 's| /| ./|' | sort) \
        <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $6}' | sort) || fail "unexpected contents in $deb"
    dpkg-deb -c "$deb" | awk '{print $1}' | grep -E '^.{8}w' && fail "$deb has a file writable by others"
    [ "$(dpkg-deb -I "$deb" conffiles)" = "$config" ] || fail "$config is not the one conffile of $deb"
}
expect_rpm() {
    local rpm=$1 config=$3
    shift 3
    diff -u <(printf '%s\n' "-rw-r--r-- $config" "$@" | sort) \
        <(rpm -qlvp "$rpm" | awk '{print $1, $9}' | sort) || fail "unexpected contents in $rpm"
    [ "$(rpm -qp --configfiles "$rpm")" = "$config" ] || fail "$config is not the one %config file of $rpm"
    rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" | grep -qx "cn $config" ||
        fail "$config is not %config(noreplace) in $rpm"
}
for name in agent server; do
    files=("-rwxr-xr-x /usr/bin/lifeline-$name" "-rw-r--r-- /usr/lib/systemd/system/lifeline-$name.service")
    expect_deb "$(deb "$name")" "$name" "/etc/lifeline/$name.toml" "${files[@]}"
    expect_rpm "$(rpm_file "$name")" "$name" "/etc/lifeline/$name.toml" "${files[@]}"
done
# The desktop program: the launcher in the menu, the tray started at login (an admin may edit or disable it, so it
# is a conffile), the icon. Its texts are compiled into the binary, so there are no translation files.
help_files=("-rwxr-xr-x /usr/bin/lifeline-help"
    "-rw-r--r-- /usr/share/applications/lifeline-help.desktop"
    "-rw-r--r-- /usr/share/icons/hicolor/scalable/apps/lifeline-help.svg")
expect_deb "$(deb help)" help /etc/xdg/autostart/lifeline-help-tray.desktop "${help_files[@]}"
expect_rpm "$(rpm_file help)" help /etc/xdg/autostart/lifeline-help-tray.desktop "${help_files[@]}"
# It talks only to the agent, whose local protocol changes with the version: the same upstream version, any
# package revision. help/Cargo.toml states the version; this catches a version bump that forgot it.
help_depends=$(dpkg-deb -f "$(deb help)" Depends)
for dep in "lifeline-agent (>= $version)" "lifeline-agent (<< $version.~)"; do
    [[ ", $help_depends," == *", $dep,"* ]] || fail "lifeline-help does not depend on $dep: $help_depends"
done
rpm -qp --requires "$(rpm_file help)" | grep -qx "lifeline-agent = $version" ||
    fail "the lifeline-help rpm does not require lifeline-agent = $version"
# No enrollment token anywhere in a package: files, maintainer scripts, scriptlets. A token's body (address, 64 hex
# digits of fingerprint, secret) is over 100 characters of base64url; shorter matches are strings in the binaries.
token_pattern='ll1\.[A-Za-z0-9_-]{100,}'
for name in agent server help; do
    dpkg-deb -R "$(deb "$name")" "$work/unpacked-$name-deb"
    mkdir "$work/unpacked-$name-rpm"
    rpm2archive -n - <"$(rpm_file "$name")" | tar -x -C "$work/unpacked-$name-rpm"
    rpm -qp --scripts "$(rpm_file "$name")" >"$work/unpacked-$name-rpm/scriptlets"
    if grep -rqaE "$token_pattern" "$work/unpacked-$name-deb" "$work/unpacked-$name-rpm"; then
        fail "a lifeline-$name package holds something that looks like an enrollment token"
    fi
done
for entry in usr/share/applications/lifeline-help.desktop etc/xdg/autostart/lifeline-help-tray.desktop; do
    desktop-file-validate "$work/unpacked-help-deb/$entry" || fail "$entry is not a valid desktop entry"
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

# A fresh minimal Debian root in $2, with the packages $1 (comma-separated) besides, from a tar cached under the
# target directory by that list.
debian_root() {
    local include=$1 dir=$2 tar mirror
    tar=$cache/$suite-minbase-$(printf '%s' "$include" | sha256sum | cut -c1-12).tar
    if [ ! -s "$tar" ]; then
        mirror=${LIFELINE_DEBIAN_MIRROR:-$(apt_mirror || true)}
        debootstrap --variant=minbase --include="$include" "$suite" "$work/fresh" \
            "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" || fail "debootstrap failed"
        tar --numeric-owner -C "$work/fresh" -cf "$tar.part" . && mv "$tar.part" "$tar"
        rm -rf "$work/fresh"
    fi
    mkdir "$dir"
    tar --numeric-owner -C "$dir" -xf "$tar"
}

step "fresh Debian $suite root"
# With the libraries the desktop program depends on (its Depends but the agent), so that it installs offline.
help_libs=$(dpkg-deb -f "$(deb help)" Depends | tr ',' '\n' | sed 's/(.*//; s/[[:space:]]//g' |
    grep -vx lifeline-agent | sort -u | paste -sd, -)
debian_root "$help_libs" "$root"
mount -t proc proc "$root/proc"
# What a fresh root holds, to compare with what is left after purge.
inventory() {
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./var/lib/dpkg -o -path ./var/log \
        -o -path ./var/cache -o -path ./run \) -prune -o -print | sort)
}
inventory >"$work/before.txt"
cp "$(deb agent)" "$root/tmp/lifeline-agent.deb"
cp "$(deb server)" "$root/tmp/lifeline-server.deb"
cp "$(deb help)" "$root/tmp/lifeline-help.deb"
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

step "desktop program: install beside the agent, purge"
chroot "$root" dpkg -i /tmp/lifeline-help.deb >"$work/dpkg-help.log"
[ "$(chroot "$root" lifeline-help --version)" = "lifeline-help $version" ] || fail "lifeline-help does not run"
# What it opens with dlopen (a window through EGL on X11, the keyboard, the cursor) is in no dependency computed from
# the binary: the package names it, and every library the binary names must be here now (each the last "lib" of a
# match: the binary's strings are packed without separators). GLX (libGL) is only glutin's fallback when EGL fails.
libraries=$(chroot "$root" ldconfig -p | awk 'NR > 1 {print $1}')
while read -r lib; do
    grep -qxF "$lib" <<<"$libraries" || fail "lifeline-help opens $lib, which its package does not install"
done < <(grep -aoE 'lib[A-Za-z0-9_+-]+\.so\.[0-9]+' "$root/usr/bin/lifeline-help" | sed 's/.*lib/lib/' | sort -u |
    grep -vx 'libGL\.so\.1')
if chroot "$root" dpkg --remove lifeline-agent >>"$work/dpkg-help.log" 2>&1; then
    fail "the agent could be removed from under the desktop program"
fi
chroot "$root" dpkg --purge lifeline-help >>"$work/dpkg-help.log"

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

step "systemd as PID 1: a second fresh root, booted in a container"
# What a chroot cannot show: the maintainer scripts' systemd branches (deb-systemd-helper and deb-systemd-invoke act
# only when /run/systemd/system exists), the units' sandbox as systemd applies it, and the agent's class C checks
# against a real systemd over D-Bus. The container has a network namespace of its own (loopback only), so the
# packaged server listens on its default port there and the agent enrolls with it.
sd_root=$work/systemd-root
debian_root systemd,systemd-sysv,dbus,systemd-resolved "$sd_root"
# Not under /tmp, where the booted system mounts a tmpfs.
sd_pkgs=/root/lifeline-packages
mkdir -p "$sd_root$sd_pkgs"
cp "$(deb agent)" "$sd_root$sd_pkgs/lifeline-agent.deb"
cp "$(deb server)" "$sd_root$sd_pkgs/lifeline-server.deb"
cp "$upgrade_deb" "$sd_root$sd_pkgs/lifeline-agent-upgrade.deb"
systemd-nspawn --quiet --boot --directory="$sd_root" --machine=lifeline-package-test --register=no --keep-unit \
    --private-network --console=pipe >"$work/container.log" 2>&1 &
container_pid=$!
# Commands run in the container through its systemd's namespaces, with a clean environment.
inside() { nsenter --target "$leader" --all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
booted() {
    leader=$(pgrep --parent "$container_pid" --exact systemd) || return 1
    local state
    state=$(inside systemctl is-system-running 2>/dev/null) || true
    [ "$state" = running ] || [ "$state" = degraded ]
}
wait_until 60 booted
[ "$(inside systemctl is-system-running)" = running ] ||
    fail "the container's system is degraded: $(inside systemctl --failed --no-legend)"
prop() { inside systemctl show --property "$2" --value "$1"; }
# How many lines of the unit's journal match $2 (a failed match prints 0).
journal_count() { inside journalctl --unit "$1" --output cat --no-pager | grep -cE "$2" || true; }
journal_has() { [ "$(journal_count "$1" "$2")" -ge "${3:-1}" ]; }
# The unit is enabled and running, its main process as user $2 with the capability bounding set $3, no new
# privileges, a system call filter and a read-only root (ProtectSystem=strict).
running_sandboxed() {
    local pid status want
    [ "$(inside systemctl is-enabled "$1")" = enabled ] || fail "$1 is not enabled"
    [ "$(inside systemctl is-active "$1")" = active ] || fail "$1 is not active"
    pid=$(prop "$1" MainPID)
    status=$(inside cat "/proc/$pid/status")
    for want in "$(printf 'Uid:\t%s\t%s\t%s\t%s' "$2" "$2" "$2" "$2")" "$(printf 'CapBnd:\t%s' "$3")" \
        "$(printf 'NoNewPrivs:\t1')" "$(printf 'Seccomp:\t2')"; do
        grep -qxF "$want" <<<"$status" || fail "$1's process $pid has no '$want' in its status"
    done
    [[ $(inside cat "/proc/$pid/mountinfo" | awk '$5 == "/" {print $6}') == ro* ]] || fail "$1 can write to /"
    echo "$1: pid $pid, uid $2, capabilities $3, sandboxed"
}

step "systemd: the server package is enabled, started and sandboxed"
inside dpkg -i "$sd_pkgs/lifeline-server.deb" >"$work/sd-dpkg-server.log"
wait_until 30 journal_has lifeline-server '^api listening on '
sd_server_uid=$(inside id -u lifeline-server)
running_sandboxed lifeline-server "$sd_server_uid" 0000000000000000
[ "$(inside stat -c '%a %u' /var/lib/lifeline-server)" = "700 $sd_server_uid" ] ||
    fail "/var/lib/lifeline-server is not 0700 lifeline-server"
# The admin's commands on the server's data run as its user, as an admin would with runuser or sudo -u.
srv() { inside runuser -u lifeline-server -- lifeline-server "$@" --config /etc/lifeline/server.toml; }
sd_admin=$(srv user add admin --tier admin | sed -n 's/^API token: *//p')
sd_cli() {
    inside env LIFELINE_API=https://127.0.0.1:7443 LIFELINE_TOKEN="$sd_admin" \
        LIFELINE_CA=/var/lib/lifeline-server/pki/ca.pem lifeline-server "$@"
}
sd_token=$(srv token create --server 127.0.0.1:7443 --uses 1 2>/dev/null)

step "systemd: the agent package is enabled and started, and enrolls from a preseeded token file"
(umask 077 && printf '%s\n' "$sd_token" >"$sd_root/etc/lifeline/enroll.token")
inside dpkg -i "$sd_pkgs/lifeline-agent.deb" >"$work/sd-dpkg-agent.log"
wait_until 60 journal_has lifeline-agent 'enrolled with the preseeded token'
wait_until 30 journal_has lifeline-agent 'link: connected server='
[ ! -e "$sd_root/etc/lifeline/enroll.token" ] || fail "the token file is still there after enrollment"
# CAP_DAC_READ_SEARCH and CAP_NET_RAW, nothing else.
running_sandboxed lifeline-agent 0 0000000000002004
sd_agent=$(sed -n 's/^agent_id = "\(.*\)"$/\1/p' "$sd_root/var/lib/lifeline-agent/identity.toml")
sd_has_snapshot() {
    local count
    count=$(sd_cli agent show "$sd_agent" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot_count"])')
    [ "$count" -ge 1 ]
}
wait_until 30 sd_has_snapshot
echo "agent $sd_agent enrolled under systemd and sent a snapshot"

step "systemd: upgrade restarts the agent on the new binary, with the admin's policy kept"
# The policy for the class C check below: fixes enabled, and one harmless unit allowed to restart.
sd_config=$sd_root/etc/lifeline/agent.toml
sed -i -e 's/^enable_class_c = false$/enable_class_c = true/' \
    -e 's/^restartable_services = \[\]$/restartable_services = ["lifeline-test-sleeper.service"]/' "$sd_config"
cat >"$sd_root/etc/systemd/system/lifeline-test-sleeper.service" <<'UNIT'
[Unit]
Description=A service that does nothing, for the package test to restart

[Service]
ExecStart=/bin/sleep infinity
UNIT
inside systemctl daemon-reload
inside systemctl start lifeline-test-sleeper.service
old_pid=$(prop lifeline-agent MainPID)
old_inode=$(inside stat -L -c %i "/proc/$old_pid/exe")
connects=$(journal_count lifeline-agent 'link: connected server=')
inside dpkg -i "$sd_pkgs/lifeline-agent-upgrade.deb" >"$work/sd-dpkg-upgrade.log"
grep -q "lifeline-agent.*$version-2" <(inside dpkg -l lifeline-agent) || fail "the upgrade was not installed"
# MainPID is known from the fork, before systemd has applied the sandbox and exec'd: wait for the new process to
# speak before reading its status.
wait_until 30 journal_has lifeline-agent 'link: connected server=' $((connects + 1))
running_sandboxed lifeline-agent 0 0000000000002004
new_pid=$(prop lifeline-agent MainPID)
[ "$new_pid" != "$old_pid" ] || fail "the upgrade did not restart the agent (still pid $old_pid)"
new_inode=$(inside stat -L -c %i "/proc/$new_pid/exe")
if [ "$new_inode" = "$old_inode" ] || [ "$new_inode" != "$(inside stat -c %i /usr/bin/lifeline-agent)" ]; then
    fail "the restarted agent does not run the binary the upgrade installed"
fi
grep -qx 'enable_class_c = true' "$sd_config" || fail "the upgrade replaced the edited config"
line=$(inside journalctl --unit lifeline-agent --output cat --no-pager | grep 'lifeline-agent started' | tail -1)
[[ $line == *"agent_id=$sd_agent"* ]] || fail "after the upgrade the agent is not $sd_agent: $line"
echo "agent restarted by the upgrade: pid $old_pid -> $new_pid, binary inode $old_inode -> $new_inode"

step "systemd: a technician's restart-service check restarts the allowed unit"
# A help request opens the consent window for its ticket, as the user would from the desktop.
asked=$(inside lifeline-agent --socket /run/lifeline-agent/agent.sock request-help --subject "package test")
sd_ticket=$(sed -n 's/.*ticket #\([0-9][0-9]*\).*/\1/p' <<<"$asked" | head -1)
[ -n "$sd_ticket" ] || fail "request-help gave no ticket: $asked"
before=$(prop lifeline-test-sleeper.service InvocationID)
# The state of a check run from the technician CLI's JSON ("refused" when the agent refused it), or "none" when the
# server refused to queue it.
run_state() { python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' <<<"$1" 2>/dev/null || echo none; }
run=$(sd_cli check run "$sd_agent" restart-service unit=lifeline-test-sleeper.service --ticket "$sd_ticket" --json)
[ "$(run_state "$run")" = "done" ] || fail "the restart-service check did not run: $run"
restarted() { [ "$(prop lifeline-test-sleeper.service InvocationID)" != "$before" ]; }
wait_until 30 restarted
[ "$(inside systemctl is-active lifeline-test-sleeper.service)" = active ] || fail "the restarted unit is not active"
# A unit off the allow list is refused by the agent, class C or not.
# The CLI prints the refused run and exits non-zero; its message on stderr is not part of the JSON.
run=$(sd_cli check run "$sd_agent" restart-service unit=dbus.service --ticket "$sd_ticket" --json 2>/dev/null || true)
[ "$(run_state "$run")" = refused ] || fail "the agent did not refuse to restart dbus.service: $run"
echo "lifeline-test-sleeper.service restarted by systemd: invocation $before -> $(prop lifeline-test-sleeper.service InvocationID)"

step "systemd: a technician's flush-dns-cache check empties systemd-resolved's cache"
[ "$(inside systemctl is-active systemd-resolved)" = active ] || fail "systemd-resolved is not running in the container"
run=$(sd_cli check run "$sd_agent" flush-dns-cache --ticket "$sd_ticket" --json 2>/dev/null || true)
[ "$(run_state "$run")" = "done" ] || fail "the flush-dns-cache check did not run: $run"
wait_until 10 journal_has systemd-resolved 'Flushed all caches'
echo "systemd-resolved flushed its caches at the agent's request"

step "systemd: remove stops the agent and keeps its identity; purge leaves no agent and no server user"
inside dpkg --remove lifeline-agent >>"$work/sd-dpkg-agent.log"
inside test -d "/proc/$new_pid" && fail "remove left the agent running"
[ "$(inside systemctl is-active lifeline-agent || true)" = inactive ] || fail "lifeline-agent is still active"
[ -e "$sd_root/var/lib/lifeline-agent/identity.toml" ] || fail "remove deleted the agent's identity"
inside dpkg --purge lifeline-agent >>"$work/sd-dpkg-agent.log"
wants=/etc/systemd/system/multi-user.target.wants
for path in /var/lib/lifeline-agent /etc/lifeline/agent.toml "$wants/lifeline-agent.service"; do
    [ ! -e "$sd_root$path" ] || fail "purge left $path"
done
sd_server_pid=$(prop lifeline-server MainPID)
inside dpkg --purge lifeline-server >>"$work/sd-dpkg-server.log"
inside test -d "/proc/$sd_server_pid" && fail "purge left the server running"
inside getent passwd lifeline-server && fail "purge left the lifeline-server user"
for path in /var/lib/lifeline-server /etc/lifeline "$wants/lifeline-server.service"; do
    [ ! -e "$sd_root$path" ] || fail "purge left $path"
done
stop_container
echo "packages OK"
