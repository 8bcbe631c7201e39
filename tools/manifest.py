"""Write bin/manifest.json: every build the collection ships, what it holds
and its SHA-256, for the action plugins (plugins/plugin_utils/binary.py).

    manifest.py BIN_DIR FLAVOR=MODULES_JSON... -- ARCHIVE=BUILD,BUILD ...

FLAVOR is a build's name before the platform (zdt, zdt-host) and
MODULES_JSON what `zdt --list` printed for it.
"""

import hashlib
import json
import os
import sys


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def main(argv):
    bin_dir = argv[0]
    sep = argv.index('--')
    flavors = dict(a.split('=', 1) for a in argv[1:sep])
    archives = {}
    for a in argv[sep + 1:]:
        name, builds = a.split('=', 1)
        for b in builds.split(','):
            archives[b] = name
    builds = {}
    for name in sorted(archives):
        flavor, platform = name.split('_', 1)
        path = os.path.join(bin_dir, name)
        builds[name] = {
            'platform': platform,
            'modules': json.loads(flavors[flavor]),
            'sha256': sha256(path),
            'size': os.path.getsize(path),
            'archive': archives[name],
        }
    out = os.path.join(bin_dir, 'manifest.json')
    with open(out + '.tmp', 'w') as f:
        json.dump({'format': 1, 'builds': builds}, f, indent=1, sort_keys=True)
        f.write('\n')
    os.rename(out + '.tmp', out)


if __name__ == '__main__':
    main(sys.argv[1:])
