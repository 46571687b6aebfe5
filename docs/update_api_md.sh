#!/bin/bash
# update_api_md.sh: writes the generated API reference over docs/API.md in the workspace.
set -euo pipefail
cp "docs/API.generated.md" "$BUILD_WORKSPACE_DIRECTORY/docs/API.md"
echo "wrote $BUILD_WORKSPACE_DIRECTORY/docs/API.md"
