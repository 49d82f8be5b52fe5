"""The SFTP jail as a pyinfra deploy, written the way a competent pyinfra user would: stock operations only, sshd
checked with `sshd -t` and reloaded only when its files changed. The desired state comes from the inventory's group
data `jail` (written by the bench from the same object the other tools get)."""
from io import StringIO
from posixpath import dirname

from pyinfra import host
from pyinfra.operations import files, iptables, server
from pyinfra.operations.util import any_changed

jail = host.data.jail
group = jail["group"]["name"]
base = jail["chroot_base"]
keys_dir = jail["keys_dir"]

server.group(name="SFTP group", group=group, gid=jail["group"]["gid"])

for d in (base, dirname(keys_dir), keys_dir):
    files.directory(name=f"Root-owned directory {d}", path=d, user="root", group="root", mode="755")

for u in jail["users"]:
    name = u["name"]
    home = f"{base}/{name}"
    server.user(
        name=f"Jailed user {name}",
        user=name,
        uid=u["uid"],
        group=group,
        home=home,
        shell="/usr/sbin/nologin",
        ensure_home=False,  # the chroot must stay root-owned; made below
        create_home=False,
        password="*",
        comment="sftp-jail",
    )
    files.directory(name=f"Chroot of {name}", path=home, user="root", group="root", mode="755")
    files.directory(name=f"Upload dir of {name}", path=f"{home}/upload", user=name, group=group, mode="755")
    files.put(
        name=f"Authorized keys of {name}",
        src=StringIO(u["key"] + "\n"),
        dest=f"{keys_dir}/{name}",
        user="root",
        group="root",
        mode="644",
    )

subsystem = files.line(
    name="sftp subsystem served in-process",
    path="/etc/ssh/sshd_config",
    line=r"^Subsystem[[:space:]]+sftp[[:space:]].*$",
    replace="Subsystem sftp internal-sftp",
    extended_regex=True,
)
match_block = files.put(
    name="Match Group block (drop-in)",
    src=StringIO(jail["match_block"]),
    dest=jail["dropin"],
    user="root",
    group="root",
    mode="644",
)
server.shell(name="Check sshd config", commands=["sshd -t"], _if=any_changed(subsystem, match_block))
server.service(name="Reload sshd", service="ssh", reloaded=True, _if=any_changed(subsystem, match_block))

fw = jail.get("firewall")
if fw:
    iptables.rule(
        name="Firewall opening for SFTP",
        chain="INPUT",
        jump="ACCEPT",
        protocol="tcp",
        destination_port=fw["port"],
        source=fw["source"],
        # Quoted as iptables-save prints it, so pyinfra's fact comparison sees the rule and the op stays idempotent.
        extras=f'-m conntrack --ctstate NEW -m comment --comment "sftp-jail:{fw["name"]}"',
    )
