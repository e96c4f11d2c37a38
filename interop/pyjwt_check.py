"""A token from a running `sigil serve` verified by PyJWT's PyJWKClient (the JWKS URL only).

Usage: BASE_URL=... ALG=... TOKEN=... python3 pyjwt_check.py
"""
import os
import sys
from urllib.parse import urlsplit

import jwt

base = os.environ["BASE_URL"]
alg = os.environ["ALG"]
token = os.environ["TOKEN"]
origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))

client = jwt.PyJWKClient(f"{base}/api/auth/jwks")
key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=[alg], issuer=origin, audience=origin)
assert claims["sub"], claims
assert claims["exp"] - claims["iat"] == 900, claims
try:
    jwt.decode(token, key.key, algorithms=[alg], issuer=origin, audience="https://elsewhere.example")
except jwt.InvalidAudienceError:
    pass
else:
    sys.exit("PyJWT accepted a token for another audience")
print(f"pyjwt {jwt.__version__}: {alg} token verified (sub={claims['sub']})")
