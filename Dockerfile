# torchplay in a CUDA-capable image: PyTorch with the CUDA runtime. With a GPU
# (docker run --gpus all ...) runs train on it; without one they train on the CPU.
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

# g++: inductor compiles the step of runs side by side to C++ (backend/torchplay/engine/steppers/compiled.py);
# without a compiler they keep the plain path
RUN apt-get update && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY frontend ./frontend
# torch>=2.4 is already in the image, so pip adds only the web pieces.
RUN pip install --no-cache-dir '.[postgres]'

ENV TORCHPLAY_DB=/data/torchplay.sqlite3
# inductor's cache on the volume: a restarted container compiles runs side by side from it
# (seconds, not 10-16 s)
ENV TORCHINDUCTOR_CACHE_DIR=/data/inductor
VOLUME /data
EXPOSE 8000
CMD ["torchplay", "--host", "0.0.0.0", "--port", "8000"]
