"""Where the front end's networks run: ONNX Runtime, OpenVINO, or their own framework.

`convert.py` turns a model file into ONNX once (YOLO through ultralytics' own
export, PP-HumanSeg through paddle2onnx, each in a child process) and caches the
result keyed by the source's sha256; `engines.py` runs a network on the runtime
chosen, behind one small interface (`Network.run`).
"""
