"""Flask-WTF forms: every HTML POST carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ItemForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=1000)])
    price_cents = IntegerField(
        "Price (cents)", validators=[InputRequired(), NumberRange(min=0, max=1_000_000_000)]
    )


class LogoutForm(FlaskForm):
    """No fields: the CSRF token alone, so a cross-site page cannot log a user out."""
