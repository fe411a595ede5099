# The service image used by docker-compose.yaml.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY bot ./bot
COPY outbound ./outbound
COPY bridge ./bridge
COPY storage ./storage
RUN useradd --create-home rating && mkdir -p /app/data && chown rating /app/data
USER rating
EXPOSE 8080
# Applies migrations, then serves the web app and runs the worker.
CMD ["python", "-m", "bridge"]
