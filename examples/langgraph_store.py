"""LangGraph's long-term memory store, backed by MemorySpace. Offline: a scripted model.

    pip install 'memoryspace[langgraph]'
    python examples/langgraph_store.py

A StateGraph recalls what it knows about the user from the store, answers (a scripted function
stands in for the LLM), and stores what the user asks it to remember. Run twice: the second run
remembers the first (the database is ``langgraph_memory.db`` in the working directory).
"""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

from memoryspace import MemorySpace
from memoryspace.integrations.langgraph import MemorySpaceStore


class State(TypedDict, total=False):
    user: str
    message: str
    memories: list[str]
    reply: str


def scripted_model(prompt: str) -> str:
    if "allergic to hazelnuts" in prompt and "cake" in prompt:
        return "I'll make you a lemon cake instead: you are allergic to hazelnuts."
    return "Got it."


def recall(state: State, *, store: BaseStore) -> State:
    hits = store.search((state["user"], "memories"), query=state["message"], limit=3)
    return {"memories": [hit.value["text"] for hit in hits]}


def respond(state: State) -> State:
    memories = "\n".join(f"- {text}" for text in state.get("memories", []))
    return {"reply": scripted_model(f"Memories:\n{memories}\nUser: {state['message']}")}


def remember(state: State, *, store: BaseStore) -> State:
    if state["message"].startswith("Remember "):
        namespace = (state["user"], "memories")
        key = f"m{len(store.search(namespace, limit=1000))}"
        store.put(namespace, key, {"text": state["message"].removeprefix("Remember ")})
    return {}


def main() -> None:
    graph = StateGraph(State)
    graph.add_node("recall", recall)
    graph.add_node("respond", respond)
    graph.add_node("remember", remember)
    graph.add_edge(START, "recall")
    graph.add_edge("recall", "respond")
    graph.add_edge("respond", "remember")
    graph.add_edge("remember", END)
    with MemorySpace.open("langgraph_memory.db", embedder="hashing") as ms:
        app = graph.compile(store=MemorySpaceStore(ms, fields=["text"]))
        for message in [
            "Remember I am allergic to hazelnuts",
            "Am I allergic to anything? Bake me a cake with hazelnuts!",
        ]:
            out = app.invoke({"user": "tobi", "message": message})
            print(f"user: {message}\n  memories shown: {out['memories']}\n  reply: {out['reply']}")
        print("namespaces:", MemorySpaceStore(ms).list_namespaces())
        print("records for user tobi:", ms.count(user="tobi"))


if __name__ == "__main__":
    main()
