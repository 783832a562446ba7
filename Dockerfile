# energymobile in production: the wheel and exactly the locked dependencies in a slim image, run
# as a non-root user (docs/deploy.md). No container engine runs where this project is tested: the
# build stage runs deploy/install.sh, the script the wheel test runs
# (energymobile_tests/fixtures/wheel.py), so the image installs what the tests installed.
#
#   docker build -t energymobile:0.1.0 .
#   docker run energymobile:0.1.0                                   # the code server (default)
#   docker run energymobile:0.1.0 dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/workspace.yaml
#   docker run energymobile:0.1.0 dagster-daemon run -w /opt/dagster/workspace.yaml
ARG PYTHON_VERSION=3.11

# --- build: compilers and headers (mysqlclient has no Linux wheel), uv, the wheel ----------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY energymobile ./energymobile
COPY deploy/install.sh ./deploy/install.sh
# The sdist, the wheel from it, uv.lock's dependencies (hashes checked) into /opt/energymobile.
RUN PYTHON=/usr/local/bin/python3 deploy/install.sh /dist /opt/energymobile

# --- runtime: the environment and the client library mysqlclient links to; no compiler ----------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group energymobile
COPY --from=build /opt/energymobile /opt/energymobile
ENV PATH=/opt/energymobile/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    PYTHONUNBUFFERED=1
# The instance configuration shipped in the package (PostgreSQL, queued runs, run monitoring,
# compute logs in S3; every secret from the environment). The Helm chart mounts its own instead.
RUN mkdir -p /opt/dagster/home \
    && python -m energymobile.instance --production --into /opt/dagster/home \
    && chown -R energymobile:energymobile /opt/dagster
USER energymobile
WORKDIR /home/energymobile
EXPOSE 4000
# The code server of the one code location pyproject.toml's [tool.dg] declares
# (energymobile_tests/deploy/test_code_location.py checks that they agree).
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "energymobile.definitions", "--location-name", "energymobile"]
