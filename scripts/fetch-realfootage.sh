#!/usr/bin/env bash
# Fetches the real-footage evaluation clips named in testdata/realfootage/manifest.json into the
# gitignored cache (testdata/realfootage/cache/src) and checks every file's sha256 against the manifest.
#
#   scripts/fetch-realfootage.sh            fetch what is missing, verify all
#   scripts/fetch-realfootage.sh --check    verify only (exit 1 when a clip is missing or differs)
#
# Where a clip comes from, in order:
#   1. already in the cache with the right sha256;
#   2. $MVWATCH_REALFOOTAGE_DIR/<cache file name>, when that folder is set (an offline copy);
#   3. https://raw.githubusercontent.com/<repository>/<commit>/<path>, pinned to the manifest's commit
#      (needs network; set MVWATCH_REALFOOTAGE_OFFLINE=1 to never try).
# The committed cuts under testdata/realfootage/clips need nothing fetched: `make test` uses only them.
# The set is for evaluation only (see the manifest's "purpose"): never train or tune on it.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/testdata/realfootage"
manifest="$dir/manifest.json"
check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

command -v python3 >/dev/null || { echo "fetch-realfootage: python3 is needed to read the manifest" >&2; exit 2; }
command -v sha256sum >/dev/null || { echo "fetch-realfootage: sha256sum is needed" >&2; exit 2; }

# One line per distinct source file: cache-path repository commit path sha256 licence
mapfile -t rows < <(python3 - "$manifest" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
seen = set()
for c in m["clips"]:
    if c["source"] in seen:
        continue
    seen.add(c["source"])
    print("\t".join([c["source"], c["repository"], c["commit"], c["path"], c["sha256"], c["licence"]]))
PY
)

sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }

missing=0
for row in "${rows[@]}"; do
	IFS=$'\t' read -r src repo commit path sha licence <<<"$row"
	dst="$dir/$src"
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
	if [[ -n "${MVWATCH_REALFOOTAGE_DIR:-}" && -f "$MVWATCH_REALFOOTAGE_DIR/$name" ]]; then
		cp "$MVWATCH_REALFOOTAGE_DIR/$name" "$dst.part"
	elif [[ "${MVWATCH_REALFOOTAGE_OFFLINE:-0}" != 1 ]] && command -v curl >/dev/null; then
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
	echo "fetch-realfootage: $missing clip(s) missing; mvwatch eval -skip-missing evaluates the rest" >&2
	exit 1
fi
echo "fetch-realfootage: all ${#rows[@]} source files present and verified in $dir/cache/src"
