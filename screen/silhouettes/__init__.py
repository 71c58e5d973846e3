"""silhouettes"""
