# Sourced by scripts/setup.sh and by its test (crates/cli/tests/prepare.rs); needs CACHE, WORK,
# `log` and `find_one` from the caller.
#
# The Debian packages the corpus is built from, pinned to the versions the committed results
# were made with (a package version changes the corpus and its fingerprint). Debian's archive
# keeps only a suite's newest version, so a pin can disappear: deb_get then takes the
# archive's version with a warning that names both (the fingerprint will differ from the
# committed results'), or fails with MIXAGENT_STRICT_PINS=1. To move a pin, change it here,
# delete the raw folders made from the package and re-run.
declare -A DEB_PIN=(
    [dict-foldoc]=20230119-1
    [dict-gcide]=0.48.5+nmu2
    [iso-codes]=4.15.0-1
    [libc6-dev]=2.36-9+deb12u14
    [libpython3.11-minimal]=3.11.2-6+deb12u7
    [libpython3.11-stdlib]=3.11.2-6+deb12u7
    [linux-libc-dev]=6.1.192-3
    [manpages-de]=4.18.1-1
    [manpages-fr]=4.18.1-1
    [pci.ids]=0.0~2023.04.11-1
    [python3-mpmath]=1.2.1-2
    [python3-sympy]=1.11.1-1
    [python3.11-doc]=3.11.2-6+deb12u7
    [unicode-data]=15.0.0-1
    [usb.ids]=2025.07.26-0+deb12u1
    [wordnet-base]=1:3.0-37
)

# deb_get PACKAGE: the cached .deb of PACKAGE's pinned version, fetched with `apt-get download`
# if missing (see DEB_PIN for a pin the archive no longer has).
deb_get() {
    local pkg=$1 dir="$CACHE/deb" f
    local ver=${DEB_PIN[$pkg]:-}
    [[ -n $ver ]] || { log "deb_get: $pkg has no version pin in DEB_PIN (scripts/setup.sh); add one"; return 1; }
    # apt writes an epoch's ':' as %3a in file names.
    f=$(find_one "$dir" "${pkg}_${ver//:/%3a}_*.deb")
    if [[ -z $f ]]; then
        local dl="$WORK/deb-$pkg"
        rm -rf "$dl"
        mkdir -p "$dir" "$dl"
        log "  downloading $pkg=$ver (apt-get download)"
        # The package lists may be missing or stale in a fresh container; update only then.
        if ! (cd "$dl" && apt-get download "$pkg=$ver" >&2) &&
            ! { apt-get update >&2 && (cd "$dl" && apt-get download "$pkg=$ver" >&2); }; then
            local have
            have=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
            if [[ -n ${MIXAGENT_STRICT_PINS:-} || -z $have || $have == "(none)" ]]; then
                log "Debian package $pkg $ver (pinned in scripts/setup.sh) is not in the archive" \
                    "(it offers: ${have:-nothing}). Pin the offered version in DEB_PIN, or unset" \
                    "MIXAGENT_STRICT_PINS to take it with a warning; the corpus fingerprint changes."
                return 1
            fi
            log "WARNING: Debian package $pkg $ver (pinned) is gone from the archive; taking $have." \
                "The corpus and its fingerprint will differ from the committed results'."
            (cd "$dl" && apt-get download "$pkg=$have" >&2)
        fi
        f=$(find_one "$dl" "${pkg}_*.deb")
        mv "$f" "$dir"/
        f="$dir/$(basename "$f")"
    fi
    echo "$f"
}
