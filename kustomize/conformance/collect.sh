#!/bin/bash
# Adds conformance cases from a checked-out public repository: every kustomization under the
# given folders that `kubectl kustomize` builds becomes a case holding only the files the
# build read (found with strace), the exact output, and its provenance.
#
#   collect.sh SOURCE OWNER/NAME REPO_ROOT COMMIT LICENSE DIR...
#
# SOURCE names the cases (`<SOURCE>-<path>`); DIRs are searched for kustomization files.
# To keep the repository small, cases whose output exceeds 128 KiB are left out and at most
# MAX_CASES (default 15) are taken per call.
set -euo pipefail
source=$1 repo=$2 root=$(realpath "$3") commit=$4 license=$5; shift 5
here=$(dirname "$(realpath "$0")")
cases=$here/cases; mkdir -p "$cases"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
find "$@" \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) \
    -not -path '*/node_modules/*' | sort | {
taken=0
while read -r file && [ "$taken" -lt "${MAX_CASES:-15}" ]; do
  dir=$(realpath "$(dirname "$file")"); rel=${dir#"$root"/}
  name=$source-$(echo "$rel" | tr '/' '-')
  [ -e "$cases/$name" ] && continue
  if ! strace -f -qq -e trace=openat,readlinkat,newfstatat -o "$work/trace" \
      timeout 60 kubectl kustomize "$dir" > "$work/out.yaml" 2>/dev/null; then
    continue
  fi
  [ "$(stat -c %s "$work/out.yaml")" -gt 131072 ] && continue
  rm -rf "$work/case"; mkdir -p "$work/case/input"
  # Regular files under the repository that the build opened for reading.
  grep -o '"'"$root"'/[^"]*"' "$work/trace" | tr -d '"' | sort -u | while read -r path; do
    if [ -f "$path" ] && [ ! -L "$path" ]; then
      mkdir -p "$work/case/input/$(dirname "${path#"$root"/}")"
      cp "$path" "$work/case/input/${path#"$root"/}"
    elif [ -d "$path" ]; then
      mkdir -p "$work/case/input/${path#"$root"/}"
    fi
  done
  # The copy must build to the same bytes, or a file was missed.
  kubectl kustomize "$work/case/input/$rel" > "$work/case/expected.yaml" 2>/dev/null || continue
  cmp -s "$work/out.yaml" "$work/case/expected.yaml" || continue
  printf '{"source": "%s", "build_dir": "%s"}\n' "$source" "$rel" > "$work/case/case.json"
  mv "$work/case" "$cases/$name"
  taken=$((taken + 1))
  echo "$name"
done
}
grep -q "^$source	" "$here/SOURCES" 2>/dev/null || printf '%s\t%s\t%s\t%s\n' "$source" "$repo" "$commit" "$license" >> "$here/SOURCES"
