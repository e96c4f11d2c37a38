#!/usr/bin/env bash
# sigil-jose sign/verify: raw aws-lc-rs, sigil-jose and jsonwebtoken side by side, median of
# ROUNDS (default 3) rounds.
exec bash "$(dirname "$0")/rounds.sh" sigil-jose sign_verify bench/jose_ratios.py
