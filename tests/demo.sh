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
trap 'mountpoint -q mnt && "$arbor" --repo=lazy umount mnt; kill $server 2>/dev/null' EXIT
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

if command -v ostree >/dev/null; then
	echo
	echo "The same repository, read by ostree:"
	step ostree --repo=repo log demo/stable
	step ostree --repo=repo fsck
fi
echo
echo "demo done: the repository is in $out/repo"
