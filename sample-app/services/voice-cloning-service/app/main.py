"""Voice cloning (CPU build): a Python service, not a workspace package. /health answers once it serves."""
import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True, "bucket": os.environ.get("GCS_BUCKET_VOICE_MODELS", "")}
