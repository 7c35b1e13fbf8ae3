# The Hugging Face Space (README front matter: sdk: docker, app_port: 8501; Spaces dropped their
# Streamlit SDK in April 2025) or any container host.
FROM python:3.11-slim
RUN useradd -m -u 1000 user
USER user
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH COLOURISE_APP_RUNS_DIR=/tmp/colourise-runs
WORKDIR /home/user/app
COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=user . .
EXPOSE 8501
CMD ["streamlit", "run", "serve.py", "--server.port", "8501", "--server.address", "0.0.0.0", "--server.headless", "true"]
