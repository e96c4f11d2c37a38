#!/usr/bin/env bash
# sigil-verify: per algorithm, warm-cache verification through Verifier, raw aws-lc-rs and
# jsonwebtoken side by side, and an axum route with and without VerifyLayer; median of ROUNDS
# (default 3) rounds.
exec bash "$(dirname "$0")/rounds.sh" sigil-verify verify bench/verify_ratios.py
