# %pre of lifeline-server: its own system user, before the files it owns are laid down.
getent group lifeline-server >/dev/null || groupadd -r lifeline-server
getent passwd lifeline-server >/dev/null || useradd -r -g lifeline-server -d /var/lib/lifeline-server -M \
    -s /sbin/nologin -c "Lifeline server" lifeline-server
exit 0
