#!/usr/bin/env bash
# Builds Rill's controller images without a Docker daemon: static binaries first (glibc with
# crt-static; OpenSSL, libssh2, libgit2 and zlib linked in; names resolved in Rust), then one
# `FROM scratch` image per controller with buildah (or docker where buildah is missing), tagged
# with the workspace version, and pushed when --push is given.
#
#   images/build.sh [--registry REG] [--version V] [--push] [--tls-verify=false]
#                   [--tool buildah|docker] [--storage DIR] [--out DIR] [--only NAME]
#                   [--binaries-only]
#
#   --registry   image name prefix (default ghcr.io/rill-gitops, as config/default uses)
#   --version    tag (default: the workspace version in Cargo.toml)
#   --push       push every image to the registry; a digest file per image lands in --out
#   --storage    buildah's storage root (default: buildah's own), for throwaway builds
#   --out        where the binaries, build contexts and digests go
#                (default $CARGO_TARGET_DIR/images or target/images)
#   --binaries-only  build the static binaries and stop (CI builds them before the tests)
#
# Printed at the end, per image: its reference, digest (when pushed) and compressed size.
set -euo pipefail
cd "$(dirname "$0")/.."

CONTROLLERS=(source-controller kustomize-controller image-automation-controller)
TARGET=x86_64-unknown-linux-gnu
REGISTRY=ghcr.io/rill-gitops
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
SOURCE=$(sed -n '/^\[workspace.package\]/,/^\[/s/^repository = "\(.*\)"/\1/p' Cargo.toml)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
PUSH=0
TLS_VERIFY=true
TOOL=
STORAGE=
OUT=
ONLY=
BINARIES_ONLY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --registry) REGISTRY=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    --push) PUSH=1; shift ;;
    --tls-verify=*) TLS_VERIFY=${1#*=}; shift ;;
    --tool) TOOL=$2; shift 2 ;;
    --storage) STORAGE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --binaries-only) BINARIES_ONLY=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "images/build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -n "$ONLY" ]; then
  CONTROLLERS=("$ONLY")
fi
TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET_DIR/images}
if [ "$BINARIES_ONLY" = 1 ]; then
  TOOL=none
elif [ -z "$TOOL" ]; then
  if command -v buildah >/dev/null 2>&1; then TOOL=buildah
  elif command -v docker >/dev/null 2>&1; then TOOL=docker
  else echo "images/build.sh: neither buildah nor docker is installed" >&2; exit 1
  fi
fi
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$CA_BUNDLE" ] || { echo "images/build.sh: no CA bundle at $CA_BUNDLE" >&2; exit 1; }

echo "==> static binaries (${CONTROLLERS[*]})"
packages=()
for c in "${CONTROLLERS[@]}"; do packages+=(-p "$c"); done
# --target keeps RUSTFLAGS off build scripts and proc-macros (which cannot be static) and the
# static objects apart from the ordinary release build. getrandom's default Linux backend looks
# the libc function up with dlsym, which finds nothing in a static binary, and then falls back to
# /dev/urandom; linux_getrandom calls it directly, so no /dev is needed.
RUSTFLAGS="-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\"" \
  OPENSSL_STATIC=1 LIBZ_SYS_STATIC=1 \
  cargo build --release --locked --target "$TARGET" "${packages[@]}"
if [ "$BINARIES_ONLY" = 1 ]; then
  exit 0
fi

mkdir -p "$OUT"
buildah_cmd() {
  if [ -n "$STORAGE" ]; then
    buildah --root "$STORAGE/root" --runroot "$STORAGE/run" --storage-driver vfs "$@"
  else
    buildah "$@"
  fi
}

for c in "${CONTROLLERS[@]}"; do
  binary="$TARGET_DIR/$TARGET/release/$c"
  if readelf -l "$binary" | grep -q INTERP; then
    echo "images/build.sh: $binary is dynamically linked" >&2; exit 1
  fi
  context="$OUT/$c"
  rm -rf "$context"
  mkdir -p "$context"
  cp "$binary" "$context/$c"
  cp "$CA_BUNDLE" "$context/ca-certificates.crt"
  image="$REGISTRY/$c:$VERSION"
  echo "==> $image ($TOOL)"
  args=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "SOURCE=$SOURCE"
        -f "$c/Dockerfile" -t "$image")
  case "$TOOL" in
    buildah) buildah_cmd bud --quiet --isolation chroot "${args[@]}" "$context" >/dev/null ;;
    docker) docker build --quiet "${args[@]}" "$context" >/dev/null ;;
    *) echo "images/build.sh: unknown tool $TOOL" >&2; exit 2 ;;
  esac
  if [ "$PUSH" = 1 ]; then
    case "$TOOL" in
      buildah)
        buildah_cmd push --quiet --tls-verify="$TLS_VERIFY" --digestfile "$OUT/$c.digest" \
          "$image" "docker://$image" ;;
      docker)
        docker push --quiet "$image" >/dev/null
        docker image inspect --format '{{index .RepoDigests 0}}' "$image" | sed 's/.*@//' >"$OUT/$c.digest" ;;
    esac
  fi
done

echo "==> images"
for c in "${CONTROLLERS[@]}"; do
  image="$REGISTRY/$c:$VERSION"
  digest=-
  size=-
  if [ "$PUSH" = 1 ]; then
    digest=$(cat "$OUT/$c.digest")
    # Compressed size: the config and every layer blob as the registry stores them.
    size=$(skopeo inspect --raw --tls-verify="$TLS_VERIFY" "docker://$image" \
      | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["size"]+sum(l["size"] for l in m["layers"]))')
  fi
  printf '%s %s %s\n' "$image" "$digest" "$size"
done
