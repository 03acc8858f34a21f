"""Starting points for a new campaign in the admin: one per common kind, each a valid campaign."""

from __future__ import annotations

from typing import Any

STYLE = {"placement": "center", "bg": "#ffffff", "fg": "#1d2320", "accent": "#1f3b2d"}

TEMPLATES: dict[str, dict[str, Any]] = {
    "welcome": {"name": "Welcome offer", "kind": "welcome", "trigger": {"delay_s": 5},
                "target": {"visitor": "new"}, "frequency": {"per": "days", "days": 30},
                "variants": [{"id": "a", "layout": "modal", "style": STYLE, "content": {
                    "headline": "Welcome! 10% off your first order", "body": "Join our list for the code.",
                    "form": {"email": True, "consent_label": "Email me offers. Unsubscribe any time.",
                             "button": "Get my code"}}}]},
    "exit": {"name": "Exit intent", "kind": "exit", "trigger": {"exit": ["mouse", "scroll", "back"]},
             "target": {"cart_total_min": 1}, "frequency": {"per": "session"},
             "variants": [{"id": "a", "layout": "modal", "style": STYLE, "content": {
                 "headline": "Before you go: your cart is saved", "body": "Free shipping ends tonight.",
                 "cta": {"label": "Back to my cart", "url": "/cart"}}}]},
    "idle": {"name": "Help at checkout", "kind": "idle", "trigger": {"idle_s": 60},
             "target": {"page_kinds": ["checkout"]}, "frequency": {"per": "session"},
             "variants": [{"id": "a", "layout": "slide", "style": {**STYLE, "placement": "bottom-right"},
                           "content": {"headline": "Need a hand?", "body": "Questions about delivery or "
                                       "payment? We answer within minutes."}}]},
    "hint": {"name": "Product page hint", "kind": "hint", "trigger": {"delay_s": 8},
             "target": {"page_kinds": ["product"]}, "frequency": {"per": "session"},
             "variants": [{"id": "a", "layout": "slide", "style": {**STYLE, "placement": "bottom-left"},
                           "content": {"headline": "Free shipping over 50", "body": "And free returns."}}]},
    "bar": {"name": "Announcement bar", "kind": "custom", "trigger": {"delay_s": 0},
            "frequency": {"per": "session", "stop_after_close": True},
            "variants": [{"id": "a", "layout": "bar", "style": {**STYLE, "placement": "top"},
                          "content": {"headline": "Free shipping on every order this week"}}]},
    "push_prompt": {"name": "Ask for reminders", "kind": "push_prompt", "trigger": {"delay_s": 3},
                    "target": {"cart_total_min": 1}, "frequency": {"per": "days", "days": 14},
                    "variants": [{"id": "a", "layout": "slide", "style": {**STYLE, "placement": "bottom-left"},
                                  "content": {"headline": "Want a nudge if you get busy?",
                                              "body": "One reminder about your cart, never ads.",
                                              "button": "Turn on reminders", "later": "Not now"}}]},
}


def new_from(template: str, cid: str) -> dict[str, Any]:
    base = TEMPLATES.get(template, TEMPLATES["welcome"])
    return {"id": cid, "status": "draft", "priority": 0, **base}
