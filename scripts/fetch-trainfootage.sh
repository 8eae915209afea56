#!/usr/bin/env bash
# Fetches the real TRAINING clips named in training/realfootage/train_manifest.json into the gitignored
# cache (training/realfootage/cache/src) and checks every file's sha256 against the manifest.
#
#   scripts/fetch-trainfootage.sh            fetch what is missing, verify all
#   scripts/fetch-trainfootage.sh --check    verify only (exit 1 when a clip is missing or differs)
#
# Where a clip comes from, in order:
#   1. already in the cache with the right sha256;
#   2. $MVWATCH_TRAINFOOTAGE_DIR/<cache file name>, when that folder is set (an offline copy);
#   3. a local git mirror: $MVWATCH_MIRROR_DIR/<owner>+<name>/repo (bare or with .git; default
#      /work/.mirror), read with `git show COMMIT:PATH`;
#   4. https://raw.githubusercontent.com/<repository>/<commit>/<path> (needs network; set
#      MVWATCH_TRAINFOOTAGE_OFFLINE=1 to never try).
# These clips are disjoint from the evaluation set testdata/realfootage (never train or tune on that).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/training/realfootage/train_manifest.json"
mirror="${MVWATCH_MIRROR_DIR:-/work/.mirror}"
check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

command -v python3 >/dev/null || { echo "fetch-trainfootage: python3 is needed to read the manifest" >&2; exit 2; }
command -v sha256sum >/dev/null || { echo "fetch-trainfootage: sha256sum is needed" >&2; exit 2; }

mapfile -t rows < <(python3 - "$manifest" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["clips"]:
    print("\t".join([c["source"], c["repository"], c["commit"], c["path"], c["sha256"], c["licence"]]))
PY
)

sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }

missing=0
for row in "${rows[@]}"; do
	IFS=$'\t' read -r src repo commit path sha licence <<<"$row"
	dst="$root/$src"
	name="$(basename "$dst")"
	if sha_ok "$dst" "$sha"; then
		echo "ok       $name ($repo@${commit:0:8} $path, $licence)"
		continue
	fi
	if [[ $check_only == 1 ]]; then
		echo "MISSING  $name ($repo@${commit:0:8} $path)" >&2
		missing=$((missing + 1))
		continue
	fi
	mkdir -p "$(dirname "$dst")"
	rm -f "$dst.part"
	gitdir="$mirror/${repo/\//+}/repo"
	[[ -d "$gitdir/.git" ]] && gitdir="$gitdir/.git"
	if [[ -n "${MVWATCH_TRAINFOOTAGE_DIR:-}" && -f "$MVWATCH_TRAINFOOTAGE_DIR/$name" ]]; then
		cp "$MVWATCH_TRAINFOOTAGE_DIR/$name" "$dst.part"
	elif [[ -d "$gitdir" ]] && git --git-dir "$gitdir" cat-file -e "$commit:$path" 2>/dev/null; then
		git --git-dir "$gitdir" show "$commit:$path" >"$dst.part"
	elif [[ "${MVWATCH_TRAINFOOTAGE_OFFLINE:-0}" != 1 ]] && command -v curl >/dev/null; then
		curl -fsSL --retry 2 -o "$dst.part" "https://raw.githubusercontent.com/$repo/$commit/$path" || rm -f "$dst.part"
	fi
	if [[ -f "$dst.part" ]] && sha_ok "$dst.part" "$sha"; then
		mv "$dst.part" "$dst"
		echo "fetched  $name ($repo@${commit:0:8} $path, $licence)"
	else
		rm -f "$dst.part"
		echo "MISSING  $name: could not fetch $repo@$commit:$path with sha256 $sha" >&2
		missing=$((missing + 1))
	fi
done
if [[ $missing -gt 0 ]]; then
	echo "fetch-trainfootage: $missing clip(s) missing" >&2
	exit 1
fi
echo "fetch-trainfootage: all ${#rows[@]} training clips present and verified in training/realfootage/cache/src"
