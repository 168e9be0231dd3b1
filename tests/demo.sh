#!/bin/bash
# make demo: build a repository from a sample tree, browse it with arbor,
# and let the real ostree read the same repository.
set -euo pipefail
arbor=$(realpath "${1:-bin/arbor}")
out=demo-out
rm -rf "$out"
mkdir -p "$out"
cd "$out"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# The embedded sample: a tiny OS-like tree.
mkdir -p tree/usr/bin tree/usr/lib tree/usr/share/doc/arbor tree/etc
printf 'NAME=Arbor Demo\nVERSION_ID=1\n' > tree/usr/lib/os-release
ln -s ../usr/lib/os-release tree/etc/os-release
printf '#!/bin/sh\necho "hello from arbor"\n' > tree/usr/bin/hello
chmod 755 tree/usr/bin/hello
printf 'A tree committed by arbor.\n' > tree/usr/share/doc/arbor/README
head -c 200000 /dev/zero | tr '\0' 'a' > tree/usr/share/doc/arbor/big.txt

step "$arbor" --repo=repo init --mode=archive
step "$arbor" --repo=repo commit -b demo/stable -s "Release 1" --add-metadata-string=version=1 --tree=dir=tree
step "$arbor" --repo=repo ls -R demo/stable
step "$arbor" --repo=repo cat demo/stable /usr/lib/os-release

# A second release: one file changed, one added, one removed.
printf 'NAME=Arbor Demo\nVERSION_ID=2\n' > tree/usr/lib/os-release
printf 'new in 2\n' > tree/usr/share/doc/arbor/NEWS
rm tree/usr/share/doc/arbor/big.txt
head -c 4000000 /dev/urandom > tree/usr/share/doc/arbor/data.bin
step "$arbor" --repo=repo commit -b demo/stable -s "Release 2" --add-metadata-string=version=2 --tree=dir=tree
step "$arbor" --repo=repo log demo/stable
step "$arbor" --repo=repo diff demo/stable^ demo/stable
step "$arbor" --repo=repo checkout -U demo/stable checkout
step ls -l checkout/usr/bin
step ./checkout/usr/bin/hello
step "$arbor" --repo=repo fsck

# Publish over loopback HTTP and pull into a second repository, verifying
# every object as a client on another machine would.
step "$arbor" --repo=repo summary -u
port=$((20000 + RANDOM % 20000))
"$arbor" --repo=repo serve --addr=127.0.0.1:$port >/dev/null &
server=$!
cleanup() {
	mountpoint -q mnt && "$arbor" --repo=lazy umount mnt
	for m in apps/mounts/*; do mountpoint -q "$m" && "$arbor" --repo=apps/repo umount "$m"; done
	# A deployment left by a failed run: its daemon, its mount, its immutable root.
	if [ -f sysroot/ostree/repo/extensions/arbor/mountd.lock ]; then
		kill "$(cat sysroot/ostree/repo/extensions/arbor/mountd.lock)" 2>/dev/null || true
	fi
	for d in sysroot/ostree/deploy/*/deploy/*/; do
		[ -d "$d" ] || continue
		mountpoint -q "$d/usr" && umount -l "$d/usr"
		chattr -i "$d" 2>/dev/null || true
	done
	kill $server 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:$port/config 2>/dev/null && break; sleep 0.1; done
step "$arbor" --repo=client init --mode=bare-user
step "$arbor" --repo=client remote add --no-gpg-verify origin http://127.0.0.1:$port/
step "$arbor" --repo=client remote refs origin
step "$arbor" --repo=client pull origin demo/stable
step "$arbor" --repo=client log origin:demo/stable
step "$arbor" --repo=client fsck

# The same commit mounted lazily in a third repository: the mount answers
# at once, and only what is read is fetched (and verified, and kept).
step "$arbor" --repo=lazy init --mode=bare-user
step "$arbor" --repo=lazy remote add --no-gpg-verify origin http://127.0.0.1:$port/
mkdir -p mnt
step "$arbor" --repo=lazy mount --no-prefetch origin:demo/stable mnt
step ls -l mnt/usr/share/doc/arbor
step cat mnt/usr/lib/os-release
step "$arbor" --repo=lazy mounts
fetched=$("$arbor" --repo=lazy mounts --json | grep -o '"bytes_fetched": [0-9]*' | grep -o '[0-9]*$')
published=$(du -sb repo/objects | cut -f1)
echo
echo "Reading os-release through the mount fetched $fetched bytes; the published objects are $published bytes."
step "$arbor" --repo=lazy umount mnt

# An app and its runtime, as flatpak builds them: the runtime from this
# machine's own shell and the libraries it loads, the app a script with a
# desktop file. Both are published, then installed lazily and run.
mkdir -p rt/usr/bin rt/usr/share
cp "$(readlink -f /bin/sh)" rt/usr/bin/sh
ldd "$(readlink -f /bin/sh)" | grep -o '/[^ ]*' | while read -r lib; do
	rel=${lib#/}; rel=${rel#usr/}   # /lib64/x and /usr/lib/x both go under usr/
	mkdir -p "rt/usr/$(dirname "$rel")"; cp "$(readlink -f "$lib")" "rt/usr/$rel"
done
head -c 3000000 /dev/urandom > rt/usr/share/unused.bin
printf '[Runtime]\nname=org.arbor.Platform\nruntime=org.arbor.Platform/%s/1.0\n\n[Environment]\nGREETING=hello from a lazily installed app\n' "$(uname -m)" > rt/metadata
step "$arbor" build-init app org.arbor.Hello org.arbor.Platform org.arbor.Platform 1.0
mkdir -p app/files/bin app/files/share/applications
printf '#!/bin/sh\necho "$GREETING"\n' > app/files/bin/hello
chmod 755 app/files/bin/hello
printf '[Desktop Entry]\nName=Hello\nExec=hello\nType=Application\n' > app/files/share/applications/org.arbor.Hello.desktop
step "$arbor" build-finish app --command=hello
step "$arbor" build-export --runtime repo rt 1.0
step "$arbor" build-export repo app 1.0
step "$arbor" build-update-repo repo
step "$arbor" --repo=apps/repo init --mode=bare-user
step "$arbor" --repo=apps/repo remote add --no-gpg-verify origin http://127.0.0.1:$port/
step "$arbor" --repo=apps/repo install -y origin org.arbor.Hello
step "$arbor" --repo=apps/repo run org.arbor.Hello
runtime_bytes=$(du -sb rt/usr | cut -f1)
fetched=$("$arbor" --repo=apps/repo mounts --json | grep -o '"bytes_fetched": [0-9]*' | head -1 | grep -o '[0-9]*$')
echo
echo "Running the app fetched $fetched bytes over HTTP (metadata and the files it read); its runtime holds $runtime_bytes bytes."
for m in $("$arbor" --repo=apps/repo mounts --json | grep -o '"mountpoint": "[^"]*"' | cut -d'"' -f4); do
	"$arbor" --repo=apps/repo umount "$m"
done

# A thin client: an OS made of the runtime's files, a kernel and /etc
# defaults, published, then deployed lazily in a sysroot (ostree's layout)
# and entered as if booted. Deployments keep owners: root only.
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p os/usr/lib/modules/6.1.0-demo os/usr/etc
	cp -a rt/usr/. os/usr/
	printf 'KERNEL\n' > os/usr/lib/modules/6.1.0-demo/vmlinuz
	printf 'ID=arbor-demo\nPRETTY_NAME="Arbor Demo OS"\n' > os/usr/lib/os-release
	printf 'demo.conf from the OS\n' > os/usr/etc/demo.conf
	step "$arbor" --repo=repo commit -b demo/os -s "OS 1" --add-metadata-string=version=1 --tree=dir=os
	step "$arbor" --repo=repo summary -u
	step "$arbor" admin init-fs sysroot
	step "$arbor" admin os-init --sysroot=sysroot demo
	step "$arbor" --repo=sysroot/ostree/repo remote add --no-gpg-verify origin http://127.0.0.1:$port/
	step "$arbor" admin deploy --sysroot=sysroot --os=demo --lazy origin:demo/os
	step "$arbor" admin status --sysroot=sysroot
	step "$arbor" admin enter --sysroot=sysroot -- sh -c 'read l < /etc/demo.conf; echo "inside the deployment: $l"'
	if command -v ostree >/dev/null; then
		step ostree admin status --sysroot=sysroot
	fi
	step "$arbor" admin undeploy --sysroot=sysroot 0
fi

if command -v ostree >/dev/null; then
	echo
	echo "The same repository, read by ostree:"
	step ostree --repo=repo log demo/stable
	step ostree --repo=repo fsck
fi
echo
echo "demo done: the repository is in $out/repo"
