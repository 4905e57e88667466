# The newsletter service: one image for every role (web, scheduler, worker, one-off commands).
# docs/operators-guide.md#docker shows how docker-compose.yml runs it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user owns the data folder; the code and configuration stay root's, read-only.
RUN useradd --system --home-dir /srv/newsletter --shell /usr/sbin/nologin newsletter \
    && mkdir -p /srv/newsletter /var/lib/newsletter \
    && chown newsletter:newsletter /var/lib/newsletter

WORKDIR /srv/newsletter
COPY pyproject.toml README.md ./
# Before the install: the package ships these templates for `newsletter init`
# (newsletter/skeleton/templates links to them).
COPY templates ./templates
COPY newsletter ./newsletter
RUN pip install .
# Defaults baked in; compose mounts the project's own feeds.yaml and templates/ over them.
COPY feeds.yaml ./

ENV NEWSLETTER_CONFIG=/srv/newsletter/feeds.yaml \
    NEWSLETTER_DATA_DIR=/var/lib/newsletter
VOLUME ["/var/lib/newsletter"]
USER newsletter
EXPOSE 8000 9108

ENTRYPOINT ["newsletter"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
