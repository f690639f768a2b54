# A stand-in for the official PostgreSQL image (docker.io/library/postgres), for hosts that cannot
# pull from Docker Hub: PostgreSQL 15 from Debian on the local node:24-slim base (Debian bookworm).
# deploy/container-smoke.sh builds it and runs compose.yaml with POSTGRES_IMAGE set to it. It
# honours the same interface compose.yaml relies on (POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, PGDATA, port 5432, pg_isready), nothing more; use the official image anywhere else.
FROM docker.io/library/node:24-slim
# No default cluster from the package: the entrypoint initialises PGDATA on first start.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
  && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main-cluster.conf \
  && apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
  && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
  PGDATA=/var/lib/postgresql/data
COPY postgres-local-entrypoint.sh /usr/local/bin/postgres-local-entrypoint.sh
USER postgres
EXPOSE 5432
# Fast shutdown, as the official image: SIGINT ends sessions and checkpoints.
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-local-entrypoint.sh"]
